// A bounded parallel executor: at most `perKey` jobs per key (a PVE node) and `total` overall.
// Per-node limits are what keeps PVE's 10 s config and storage locks from timing out
// ("can't lock file ... got timeout") when many VMs are touched at once; a single global limit
// either starves idle nodes or overloads busy ones.

export interface ExecutorLimits {
  /** Jobs running at once on one key (node). */
  perKey: number
  /** Jobs running at once overall (default: unlimited). */
  total?: number
}

export type Outcome<T, R> = { item: T; ok: true; value: R } | { item: T; ok: false; error: unknown }

export interface RunBoundedOptions<T> extends ExecutorLimits {
  keyOf: (item: T) => string
  /** Stop starting new jobs after the first failure (running ones finish). */
  stopOnError?: boolean
  signal?: AbortSignal
}

/**
 * Runs `work` for every item, in input order as capacity frees up, and returns one outcome per
 * item in input order. Items whose key is saturated wait while later items of other keys start.
 */
export async function runBounded<T, R>(items: T[], opts: RunBoundedOptions<T>, work: (item: T) => Promise<R>): Promise<Outcome<T, R>[]> {
  if (opts.perKey < 1) throw new Error('perKey must be >= 1')
  const results: Outcome<T, R>[] = new Array(items.length)
  const running = new Map<string, number>()
  const queue = items.map((item, index) => ({ item, index, key: opts.keyOf(item) }))
  const total = opts.total ?? Infinity
  let active = 0
  let failed = false
  let skipped = false

  return new Promise((resolve) => {
    const pump = () => {
      const stopping = (opts.stopOnError && failed) || opts.signal?.aborted
      if (stopping && !skipped) {
        skipped = true
        for (const q of queue.splice(0)) {
          results[q.index] = { item: q.item, ok: false, error: opts.signal?.aborted ? new Error('aborted') : new Error('not started: an earlier job failed') }
        }
      }
      for (let i = 0; i < queue.length && active < total; ) {
        const q = queue[i]
        if ((running.get(q.key) ?? 0) >= opts.perKey) {
          i++
          continue
        }
        queue.splice(i, 1)
        active++
        running.set(q.key, (running.get(q.key) ?? 0) + 1)
        Promise.resolve()
          .then(() => work(q.item))
          .then(
            (value) => (results[q.index] = { item: q.item, ok: true, value }),
            (error: unknown) => {
              failed = true
              results[q.index] = { item: q.item, ok: false, error }
            },
          )
          .finally(() => {
            active--
            running.set(q.key, (running.get(q.key) ?? 1) - 1)
            pump()
          })
      }
      if (active === 0 && queue.length === 0) resolve(results)
    }
    pump()
  })
}

/** Retries `fn` while `retryable(err)` holds, with exponential backoff and jitter, within a deadline. */
export async function retryWithBackoff<R>(
  fn: (attempt: number) => Promise<R>,
  opts: {
    retryable: (err: unknown) => boolean
    attempts?: number
    initialDelayMs?: number
    maxDelayMs?: number
    onRetry?: (err: unknown, attempt: number, delayMs: number) => void
    sleep?: (ms: number) => Promise<void>
  },
): Promise<R> {
  const attempts = opts.attempts ?? 6
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  let delay = opts.initialDelayMs ?? 1000
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt)
    } catch (err) {
      if (attempt >= attempts || !opts.retryable(err)) throw err
      const wait = Math.round(delay * (0.8 + Math.random() * 0.4))
      opts.onRetry?.(err, attempt, wait)
      await sleep(wait)
      delay = Math.min(delay * 2, opts.maxDelayMs ?? 15_000)
    }
  }
}
