// Per-cluster state next to the profiles' working copy: .state/<cluster>/ (git-ignored, 0700).
//   state.json     the cluster id (the owner marker's id), VMIDs ever cloned, chosen nodes
//   journal.jsonl  append-only intent log: every mutation is written before it is sent, its UPID
//                  right after, and its outcome at the end, so a killed run can be resumed
//   lock           the pid of the run working on the cluster (one run per cluster at a time)
import { randomUUID } from 'node:crypto'
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { ConflictError } from '../errors.ts'

export interface ClusterState {
  cluster: string
  clusterId: string
  createdAt: string
  /** Every VMID a run has asked PVE to clone, so partial clones without tags are still found. */
  vmids: number[]
  /** Nodes chosen for VMs that are not finished yet (a resumed run keeps the layout). */
  placement: Record<string, string>
  /** The Flux bootstrap create did (a re-run with the same source does not bootstrap again). */
  flux?: { repo: string; path: string; branch: string; at: string }
}

export type JournalPhase = 'intent' | 'dispatched' | 'done' | 'failed'

export interface JournalEntry {
  ts: string
  run: string
  op: string
  phase: JournalPhase
  vmid?: number
  node?: string
  upid?: string
  detail?: string
}

export const stateRoot = (): string => resolve(process.env.PM_STATE_DIR ?? '.state')

export class ClusterJournal {
  readonly dir: string
  readonly cluster: string
  readonly run = randomUUID().slice(0, 8)

  constructor(cluster: string, root = stateRoot()) {
    this.cluster = cluster
    this.dir = join(root, cluster)
  }

  private ensureDir(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
  }

  get journalFile(): string {
    return join(this.dir, 'journal.jsonl')
  }

  readState(): ClusterState | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir, 'state.json'), 'utf8')) as ClusterState
    } catch (err: any) {
      if (err?.code === 'ENOENT') return undefined
      throw new ConflictError(`cluster state ${join(this.dir, 'state.json')} is unreadable: ${err.message}`, 'restore it from a backup, or remove it to adopt the id from the live VMs')
    }
  }

  /** Atomic replace (write + fsync + rename): a crash leaves the old or the new state. */
  writeState(state: ClusterState): void {
    this.ensureDir()
    const file = join(this.dir, 'state.json')
    const tmp = `${file}.${process.pid}.tmp`
    const fd = openSync(tmp, 'w', 0o600)
    writeSync(fd, JSON.stringify(state, null, 2) + '\n')
    fsyncSync(fd)
    closeSync(fd)
    renameSync(tmp, file)
  }

  updateState(change: (s: ClusterState) => void): ClusterState {
    const state = this.readState()
    if (!state) throw new Error(`no state for cluster ${this.cluster}`)
    change(state)
    this.writeState(state)
    return state
  }

  /** Appends synchronously, so the line is on disk before the request it announces is sent. */
  append(entry: Omit<JournalEntry, 'ts' | 'run'>): void {
    this.ensureDir()
    appendFileSync(this.journalFile, JSON.stringify({ ts: new Date().toISOString(), run: this.run, ...entry }) + '\n', { mode: 0o600 })
  }

  entries(): JournalEntry[] {
    let text: string
    try {
      text = readFileSync(this.journalFile, 'utf8')
    } catch (err: any) {
      if (err?.code === 'ENOENT') return []
      throw err
    }
    const out: JournalEntry[] = []
    for (const line of text.split('\n')) {
      if (!line.trim()) continue
      try {
        out.push(JSON.parse(line) as JournalEntry)
      } catch {
        // A torn last line from a killed run: the request it announced is reconciled from live state.
      }
    }
    return out
  }

  /** Tasks that were dispatched (UPID known) but whose outcome was never recorded. */
  pendingTasks(): JournalEntry[] {
    const open = new Map<string, JournalEntry>()
    for (const e of this.entries()) {
      if (!e.upid) continue
      if (e.phase === 'dispatched') open.set(e.upid, e)
      else open.delete(e.upid)
    }
    return [...open.values()]
  }

  /**
   * Takes the per-cluster lock, or throws ConflictError naming the live run holding it. A lock
   * left by a killed run (its pid is gone) is taken over.
   */
  lock(): () => void {
    this.ensureDir()
    const file = join(this.dir, 'lock')
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 })
        return () => {
          try {
            if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file)
          } catch {
            // already gone
          }
        }
      } catch (err: any) {
        if (err?.code !== 'EEXIST') throw err
        const pid = Number(readFileSync(file, 'utf8').trim())
        if (pid && pidAlive(pid)) {
          throw new ConflictError(`another run (pid ${pid}) is working on cluster ${this.cluster}`, `wait for it to finish; if it is not running, remove ${file}`)
        }
        unlinkSync(file)
      }
    }
    throw new ConflictError(`could not lock cluster ${this.cluster}`)
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err: any) {
    return err?.code === 'EPERM'
  }
}
