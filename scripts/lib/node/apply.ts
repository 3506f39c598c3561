// Executes moves with bounded parallelism: at most `parallel` migrations at once, no new one after
// the first failure (the running ones finish), and the journal saved after every change so a
// re-run resumes where this one stopped. Whether a move is still needed is decided from where the
// guest actually is, never from the journal alone: a crash between "migration done" and "journal
// written" must not migrate twice.
import type { Journal, Location, Move } from './plan.ts'

export interface MoveRunner {
  /** Where the guest is now; undefined if it no longer exists. */
  locate(vmid: number): Promise<Location | undefined>
  /** Migrates and waits for the task; resolves with the UPID. */
  migrate(move: Move, onUpid: (upid: string) => void): Promise<string>
}

export type MoveEvent =
  | { kind: 'start'; move: Move }
  | { kind: 'done'; move: Move; seconds: number; already?: boolean }
  | { kind: 'failed'; move: Move; error: string }

export interface ApplyResult {
  done: number[]
  failed: { vmid: number; error: string }[]
  notStarted: number[]
}

export interface ApplyOptions {
  parallel: number
  runner: MoveRunner
  save: (journal: Journal) => Promise<void>
  onEvent?: (e: MoveEvent) => void
  /** journal step status written on success ("done" for apply, "returned" for return) */
  doneStatus?: 'done' | 'returned'
}

export async function applyMoves(journal: Journal, moves: Move[], opts: ApplyOptions): Promise<ApplyResult> {
  const doneStatus = opts.doneStatus ?? 'done'
  const result: ApplyResult = { done: [], failed: [], notStarted: [] }
  const queue = moves.filter((m) => journal.steps[String(m.vmid)]?.status !== doneStatus)
  let stop = false
  // Journal writes are serialised: concurrent rename()s of the same file must not interleave.
  let saving = Promise.resolve()
  const save = () => (saving = saving.then(() => opts.save(journal)))
  const setStep = (vmid: number, step: Journal['steps'][string]) => {
    journal.steps[String(vmid)] = { ...step, at: new Date().toISOString() }
    return save()
  }

  const runOne = async (move: Move) => {
    const started = Date.now()
    try {
      const at = await opts.runner.locate(move.vmid)
      if (!at) throw new Error(`VM ${move.vmid} no longer exists`)
      if (at.node === move.to) {
        await setStep(move.vmid, { status: doneStatus })
        result.done.push(move.vmid)
        opts.onEvent?.({ kind: 'done', move, seconds: 0, already: true })
        return
      }
      if (at.node !== move.from) throw new Error(`VM ${move.vmid} is on ${at.node}, expected ${move.from}: moved by someone else`)
      opts.onEvent?.({ kind: 'start', move })
      await setStep(move.vmid, { status: 'running' })
      const upid = await opts.runner.migrate(move, (u) => void setStep(move.vmid, { status: 'running', upid: u }))
      await setStep(move.vmid, { status: doneStatus, upid })
      result.done.push(move.vmid)
      opts.onEvent?.({ kind: 'done', move, seconds: (Date.now() - started) / 1000 })
    } catch (err: any) {
      stop = true
      const error = String(err?.message ?? err)
      await setStep(move.vmid, { status: 'failed', error })
      result.failed.push({ vmid: move.vmid, error })
      opts.onEvent?.({ kind: 'failed', move, error })
    }
  }

  const workers = Array.from({ length: Math.max(1, Math.min(opts.parallel, queue.length)) }, async () => {
    for (;;) {
      if (stop) return
      const move = queue.shift()
      if (!move) return
      await runOne(move)
    }
  })
  await Promise.all(workers)
  await saving
  result.notStarted = queue.map((m) => m.vmid)
  return result
}
