// Waiting for many tasks at once without polling each of them: one GET of a node's active task
// list (`/nodes/{node}/tasks?source=active`) per tick covers every task we wait for there, so the
// request rate stays flat however many VMs a bulk operation touches, and a finished task is
// noticed within one tick. When a task leaves the active list, the one task waiter
// (scripts/lib/pve/tasks.ts) reads its final status, warnings and log as for any other task.
import { decodeUpid } from '../pve/tasks.ts'
import type { PveApi } from './api.ts'
import type { TaskOutcome, TaskWaiter } from './context.ts'

export interface TaskWatchOptions {
  /** Pause between active-list reads while a task of ours finishes now and then (ms). */
  minIntervalMs?: number
  /** The pause grows up to this while nothing finishes (long clones, backups). */
  maxIntervalMs?: number
}

interface Pending {
  upid: string
  deadline: number
  resolve: (o: TaskOutcome) => void
  reject: (e: unknown) => void
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export class ActiveTaskWatch {
  private readonly api: PveApi
  private readonly waitOne: TaskWaiter
  private readonly minMs: number
  private readonly maxMs: number
  private readonly pending = new Map<string, Map<string, Pending>>()

  constructor(api: PveApi, waitOne: TaskWaiter, opts: TaskWatchOptions = {}) {
    this.api = api
    this.waitOne = waitOne
    this.minMs = opts.minIntervalMs ?? 100
    this.maxMs = opts.maxIntervalMs ?? 1000
  }

  /** A TaskWaiter: resolves like waitForTask once the task has ended. */
  readonly wait: TaskWaiter = (upid, opts = {}) => {
    // a live log needs the task's own log polled: leave that to the single-task waiter
    if (opts.onLog) return this.waitOne(upid, opts)
    const node = decodeUpid(upid).node
    return new Promise<TaskOutcome>((resolve, reject) => {
      let forNode = this.pending.get(node)
      const start = !forNode
      if (!forNode) this.pending.set(node, (forNode = new Map()))
      forNode.set(upid, { upid, deadline: Date.now() + (opts.timeoutMs ?? 30 * 60_000), resolve, reject })
      if (start) void this.watchNode(node)
    })
  }

  private finish(p: Pending, remainingMs: number): void {
    this.waitOne(p.upid, { timeoutMs: Math.max(1, remainingMs) }).then(p.resolve, p.reject)
  }

  private async watchNode(node: string): Promise<void> {
    const forNode = this.pending.get(node)!
    let interval = this.minMs
    while (forNode.size) {
      await sleep(interval)
      let active: Set<string>
      try {
        const rows = await this.api.get<{ upid: string; status?: string }[]>(`/nodes/${encodeURIComponent(node)}/tasks`, { source: 'active', limit: 1000 })
        active = new Set(rows.filter((r) => r.status === undefined || /^running$/i.test(r.status)).map((r) => r.upid))
      } catch {
        // the list is only a shortcut: let the per-task waiter take over for this node
        for (const p of forNode.values()) this.finish(p, p.deadline - Date.now())
        forNode.clear()
        break
      }
      let finished = 0
      const now = Date.now()
      for (const p of [...forNode.values()]) {
        if (!active.has(p.upid) || now >= p.deadline) {
          forNode.delete(p.upid)
          finished++
          this.finish(p, p.deadline - now)
        }
      }
      // Slow growth keeps the pause near a tenth of the time waited so far, so a task is noticed
      // within ~10 % of its duration (1.25x let a 2 s start wait ~0.5 s for the next look).
      interval = finished ? this.minMs : Math.min(this.maxMs, Math.round(interval * 1.1))
    }
    this.pending.delete(node)
  }
}
