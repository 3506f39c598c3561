// Dispatch one VM task and wait for it, surviving the contention PVE reports as errors:
// "can't lock file ... got timeout" (a sync 500 or the task's exit status: in both cases
// nothing was changed, so the same request is sent again after a backoff) and
// "VM is locked (x)" (wait for the lock first). Everything else fails at once.
import { TaskFailedError } from '../errors.ts'
import { errorText } from './api.ts'
import { ensureUnlocked, findVm, type TaskOutcome, type VmOps } from './context.ts'
import { retryWithBackoff } from './executor.ts'
import { describeContention, isLockTimeout, lockedBy } from './locks.ts'

export interface VmTaskResult {
  upid: string
  /** Present when the task was waited for. */
  outcome?: TaskOutcome
}

export interface RunVmTaskOptions {
  vmid: number
  /** false: return right after dispatch (--no-wait). */
  wait: boolean
  /** Attempts for lock contention (default 6). */
  attempts?: number
  onLog?: (line: string) => void
  timeoutMs?: number
}

/** True for failures a retry resolves: PVE's lock timeouts and `VM is locked` from a finishing task. */
export const isContention = (err: unknown) => isLockTimeout(errorText(err)) || lockedBy(errorText(err)) !== undefined

export async function runVmTask(ops: VmOps, dispatch: () => Promise<string>, opts: RunVmTaskOptions): Promise<VmTaskResult> {
  return retryWithBackoff(
    async (attempt) => {
      if (attempt > 1) {
        const vm = await findVm(ops.api, opts.vmid)
        if (vm.lock) await ensureUnlocked(ops, vm)
      }
      const upid = await dispatch()
      if (!opts.wait) return { upid }
      const outcome = await ops.wait(upid, { timeoutMs: opts.timeoutMs ?? ops.taskTimeoutMs, onLog: opts.onLog })
      return { upid, outcome }
    },
    {
      attempts: opts.attempts ?? 6,
      initialDelayMs: 1000,
      retryable: (err) => isContention(err) && !(err instanceof TaskFailedError && !err.exitStatus),
      onRetry: (err, attempt, delay) => ops.log(`VM ${opts.vmid}: ${describeContention(errorText(err))}; nothing changed, retrying in ${(delay / 1000).toFixed(1)} s (attempt ${attempt + 1})`),
    },
  )
}
