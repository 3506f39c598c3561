// Simulated time. Every duration in the simulator is given in simulated seconds (what real PVE
// would take); `timeFactor` maps them to wall-clock time (0.001: a 60 s clone takes 60 ms).
export class Clock {
  timeFactor: number
  /**
   * Lock acquisition never times out faster than this (wall-clock ms): at tiny time factors the
   * real cost of HTTP round trips would otherwise make a 10 s lock wait spuriously short.
   */
  lockWaitFloorMs = 250
  constructor(timeFactor: number) {
    this.timeFactor = timeFactor
  }

  ms(simSeconds: number): number {
    return Math.max(0, simSeconds * 1000 * this.timeFactor)
  }

  /** Resolves after `simSeconds` of simulated time; rejects with the signal's reason when aborted. */
  sleep(simSeconds: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason)
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }, this.ms(simSeconds))
      const onAbort = () => {
        clearTimeout(timer)
        reject(signal!.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}

/** An error whose message is PVE's die text; `status` is the HTTP code when raised synchronously. */
export class PveError extends Error {
  status: number
  errors?: Record<string, string>
  constructor(message: string, status = 500, errors?: Record<string, string>) {
    super(message)
    this.status = status
    this.errors = errors
  }
}

/** 400 "Parameter verification failed." with a per-parameter errors map (PVE's raise_param_exc). */
export const paramError = (errors: Record<string, string>) => new PveError('Parameter verification failed.', 400, errors)
export const permError = (what?: string) => new PveError(what ? `Permission check failed (${what})` : 'Permission check failed', 403)
