// Concurrency limits by resource: a job takes one slot of every resource it touches (its nodes,
// its target storage) and runs only when all are free, so PVE's 10 s config and storage locks
// never time out. Slots are taken all at once (no partial holds), which cannot deadlock.

export interface Limits {
  perNode: number
  perStorage: number
}

export type Resource = { kind: 'node' | 'storage'; id: string }

export class ResourceLimiter {
  private readonly limits: Limits
  private readonly used = new Map<string, number>()
  private readonly waiting: { keys: string[]; wake: () => void }[] = []
  /** Highest number of simultaneous holders per key (for tests and benchmarks). */
  readonly highWater = new Map<string, number>()

  constructor(limits: Limits) {
    this.limits = limits
  }

  private cap(key: string): number {
    return key.startsWith('node:') ? this.limits.perNode : this.limits.perStorage
  }

  private free(keys: string[]): boolean {
    return keys.every((k) => (this.used.get(k) ?? 0) < this.cap(k))
  }

  private take(keys: string[]): void {
    for (const k of keys) {
      const n = (this.used.get(k) ?? 0) + 1
      this.used.set(k, n)
      this.highWater.set(k, Math.max(this.highWater.get(k) ?? 0, n))
    }
  }

  /** Runs `job` holding one slot of each resource. */
  async run<T>(resources: Resource[], job: () => Promise<T>): Promise<T> {
    const keys = [...new Set(resources.map((r) => `${r.kind}:${r.id}`))]
    if (!this.free(keys)) await new Promise<void>((wake) => this.waiting.push({ keys, wake }))
    else this.take(keys)
    try {
      return await job()
    } finally {
      for (const k of keys) this.used.set(k, (this.used.get(k) ?? 1) - 1)
      this.pump()
    }
  }

  // First come, first served among jobs that fit: a job waiting for a busy node does not hold
  // back jobs for idle ones.
  private pump(): void {
    for (let i = 0; i < this.waiting.length; ) {
      const w = this.waiting[i]
      if (this.free(w.keys)) {
        this.waiting.splice(i, 1)
        this.take(w.keys)
        w.wake()
      } else i++
    }
  }
}
