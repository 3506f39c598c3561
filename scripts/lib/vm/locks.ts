// Lock policy: read a VM's `lock` before acting. Locks that belong to running work (a clone, a
// migration, a backup...) end by themselves: wait for them with backoff up to a deadline. Locks
// that outlive their work (a crash during snapshot-delete, a VM suspended to disk) never end by
// themselves: stop at once and say exactly what fixes it. Never unlock automatically.
import { ConflictError } from '../errors.ts'

/** Locks PVE sets for the duration of a task (pve-api-behaviour.md §4.2). */
export const TRANSIENT_LOCKS = new Set(['backup', 'clone', 'create', 'migrate', 'rollback', 'snapshot', 'snapshot-delete', 'suspending', 'destroyed', 'import', 'restore'])

export type LockClass = 'none' | 'transient' | 'stale'

/**
 * `suspended` is a state, not work in progress. Any other lock counts as stale when no task of
 * the VM is running (e.g. `snapshot-delete` left behind by a crashed or killed task).
 */
export function classifyLock(lock: string | undefined, opts: { taskRunning?: boolean } = {}): LockClass {
  if (!lock) return 'none'
  if (lock === 'suspended') return 'stale'
  if (!TRANSIENT_LOCKS.has(lock)) return 'stale'
  if (opts.taskRunning === false) return 'stale'
  return 'transient'
}

/** The exact remedy for a lock that will not go away by itself. */
export function lockRemedy(vmid: number, lock: string, node?: string): string {
  const on = node ? ` (on node ${node})` : ''
  switch (lock) {
    case 'suspended':
      return `the VM is suspended to disk: resume it with \`task pve:vm:resume VMID=${vmid}\`; to discard the saved state instead, run \`qm unlock ${vmid}\`${on}`
    case 'snapshot-delete':
      return `a snapshot deletion was interrupted: run \`qm unlock ${vmid}\`${on}, then \`qm delsnapshot ${vmid} <snapshot> --force\` for the half-deleted snapshot (see \`task pve:snap:list VMID=${vmid}\`)`
    case 'snapshot':
      return `a snapshot was interrupted: run \`qm unlock ${vmid}\`${on}, then delete the incomplete snapshot (snapstate prepare) with \`qm delsnapshot ${vmid} <snapshot> --force\``
    case 'backup':
      return `no backup is running for it: run \`qm unlock ${vmid}\`${on}`
    default:
      return `check \`task pve:tasks\` for a task still working on VM ${vmid}; if there is none, run \`qm unlock ${vmid}\`${on}`
  }
}

export interface LockState {
  lock?: string
  /** Whether a PVE task is still working on the VM (undefined = unknown). */
  taskRunning?: boolean
  node?: string
}

export interface WaitForUnlockOptions {
  vmid: number
  /** Give up after this long (ms). */
  timeoutMs: number
  /** First pause between reads; grows by 1.6x up to maxDelayMs, with ±20 % jitter. */
  initialDelayMs?: number
  maxDelayMs?: number
  onWait?: (lock: string, waitedMs: number) => void
  sleep?: (ms: number) => Promise<void>
  now?: () => number
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/**
 * Reads the lock until it is gone. Transient locks are waited for; a stale lock, or one still
 * there at the deadline, is a ConflictError (exit 6) carrying the remedy.
 */
export async function waitForUnlock(read: () => Promise<LockState>, opts: WaitForUnlockOptions): Promise<void> {
  const sleep = opts.sleep ?? defaultSleep
  const now = opts.now ?? Date.now
  const start = now()
  let delay = opts.initialDelayMs ?? 500
  const maxDelay = opts.maxDelayMs ?? 5000
  for (;;) {
    const state = await read()
    const cls = classifyLock(state.lock, { taskRunning: state.taskRunning })
    if (cls === 'none') return
    const lock = state.lock as string
    if (cls === 'stale') {
      throw new ConflictError(`VM ${opts.vmid} is locked (${lock}) and nothing is working on it`, lockRemedy(opts.vmid, lock, state.node))
    }
    const waited = now() - start
    if (waited >= opts.timeoutMs) {
      throw new ConflictError(
        `VM ${opts.vmid} is still locked (${lock}) after ${Math.round(waited / 1000)} s`,
        `wait for the running task to finish (task pve:tasks), or raise --lock-timeout; if no task is running: ${lockRemedy(opts.vmid, lock, state.node)}`,
      )
    }
    opts.onWait?.(lock, waited)
    const jitter = 0.8 + Math.random() * 0.4
    await sleep(Math.min(delay * jitter, Math.max(0, opts.timeoutMs - waited)))
    delay = Math.min(delay * 1.6, maxDelay)
  }
}

/** PVE's texts for lock contention that a retry (after backoff) resolves. */
export function isLockTimeout(message: string): boolean {
  return /can't lock file '[^']+' - got timeout|got lock request timeout|cfs-lock '[^']+' error/i.test(message)
}

/**
 * What a retried lock contention means, in words instead of PVE's raw "can't lock file ... got
 * timeout" (which reads like a failure although nothing was changed and the retry resolves it).
 */
export function describeContention(message: string): string {
  const vmConfig = /lock-(\d+)\.conf/.exec(message)
  if (vmConfig) return `the configuration of VM ${vmConfig[1]} is busy (another task holds its lock)`
  const storage = /pve-storage-([\w.-]+)'|cfs-lock 'storage-([\w.-]+)'/.exec(message)
  if (storage) return `storage ${storage[1] ?? storage[2]} is busy (another task holds its lock)`
  const migrate = /pve-migrate-(\d+)/.exec(message)
  if (migrate) return `a migration of VM ${migrate[1]} holds its lock`
  const locked = lockedBy(message)
  if (locked) return `VM is locked (${locked})`
  return 'PVE is busy (a lock is held by another task)'
}

/** `VM is locked (x)` from a synchronous error or a task's exit status. */
export function lockedBy(message: string): string | undefined {
  return /VM is locked \(([\w-]+)\)/.exec(message)?.[1]
}
