// PVE workers: UPIDs, task logs, status/exitstatus, abort. A worker is an async function; what it
// throws becomes `TASK ERROR: <text>` and the exitstatus, like PVE's fork_worker.
import type { Clock } from './clock.ts'

export interface TaskContext {
  upid: string
  signal: AbortSignal
  log(line: string): void
  /** log_warn: a `WARN:` line that counts towards `WARNINGS: n`. */
  warn(msg: string): void
  sleep(simSeconds: number): Promise<void>
  /** Throws the injected failure for this task, if any (workers call it where PVE would fail). */
  failPoint(): void
}

export interface Task {
  upid: string
  node: string
  pid: number
  pstart: number
  starttime: number
  type: string
  id: string
  /** Auth id: `user@realm` or `user@realm!token`. */
  user: string
  log: string[]
  status: 'running' | 'stopped'
  exitstatus?: string
  endtime?: number
  warnings: number
  abort: AbortController
  done: Promise<void>
}

const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, '0')

export const UPID_RE = /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/

export function decodeUpid(upid: string) {
  const m = UPID_RE.exec(upid)
  if (!m) return undefined
  return { node: m[1], pid: parseInt(m[3], 16), pstart: parseInt(m[4], 16), starttime: parseInt(m[5], 16), type: m[6], id: m[7], user: m[8] }
}

/** Workers that install their own signal handler end with this text instead of `received interrupt`. */
const OWN_SIGNAL_HANDLER = new Set(['qmclone', 'vzdump', 'qmigrate'])

export class TaskManager {
  tasks = new Map<string, Task>()
  private clock: Clock
  private nextPid: () => number
  private pstartBase = 0x01000000 + Math.floor(Math.random() * 0x00800000)
  /** Running tasks per node, and the most seen at once. */
  running = new Map<string, number>()
  highWater = new Map<string, number>()
  /** Called with every finished task (fault injection, observability). */
  onFinish?: (t: Task) => void
  /** Injected failure text for a new task (fault schedule), if any. */
  faultFor?: (type: string, id: string) => string | undefined

  constructor(clock: Clock, nextPid: () => number) {
    this.clock = clock
    this.nextPid = nextPid
  }

  start(node: string, type: string, id: string, user: string, worker: (ctx: TaskContext) => Promise<void>): Task {
    const pid = this.nextPid()
    const pstart = (this.pstartBase += 1 + Math.floor(Math.random() * 50))
    const starttime = Math.floor(Date.now() / 1000)
    const upid = `UPID:${node}:${hex8(pid)}:${hex8(pstart)}:${hex8(starttime)}:${type}:${id}:${user}:`
    const abort = new AbortController()
    const fault = this.faultFor?.(type, id)
    const task: Task = { upid, node, pid, pstart, starttime, type, id, user, log: [], status: 'running', warnings: 0, abort, done: Promise.resolve() }
    this.tasks.set(upid, task)
    const count = (this.running.get(node) ?? 0) + 1
    this.running.set(node, count)
    this.highWater.set(node, Math.max(count, this.highWater.get(node) ?? 0))
    const ctx: TaskContext = {
      upid,
      signal: abort.signal,
      log: (line) => task.log.push(...line.split('\n')),
      warn: (msg) => {
        task.warnings++
        task.log.push(`WARN: ${msg}`)
      },
      sleep: (s) => this.clock.sleep(s, abort.signal),
      failPoint: () => {
        if (fault !== undefined) throw new Error(fault)
      },
    }
    task.done = (async () => {
      await Promise.resolve()
      try {
        await worker(ctx)
        if (abort.signal.aborted) throw abort.signal.reason
        this.finish(task, task.warnings ? `WARNINGS: ${task.warnings}` : 'OK')
      } catch (e) {
        const text = abort.signal.aborted ? (OWN_SIGNAL_HANDLER.has(type) ? 'interrupted by signal' : 'received interrupt') : errorText(e)
        this.finish(task, text)
      }
    })()
    return task
  }

  private finish(task: Task, exitstatus: string) {
    const clean = exitstatus.replace(/\n+$/, '').replace(/\n/g, ' ')
    task.log.push(clean === 'OK' ? 'TASK OK' : /^WARNINGS: \d+$/.test(clean) ? `TASK ${clean}` : `TASK ERROR: ${clean}`)
    task.status = 'stopped'
    task.exitstatus = clean
    task.endtime = Math.floor(Date.now() / 1000)
    this.running.set(task.node, (this.running.get(task.node) ?? 1) - 1)
    this.onFinish?.(task)
  }
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}
