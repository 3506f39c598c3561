// Fault injection: a seeded schedule of rules (from a file, startSimulator options or the control
// API) covering the reliability catalogue: HTTP 5xx/595/596/599 and resets, slow requests, task
// failures with PVE's texts, nextid races, and VMs changed by "someone else" mid-run.
export type FaultRule = {
  /** Only requests matching these (method, or methods joined by |, path regex, listener node) are affected. */
  method?: string
  path?: string
  node?: string
  /** Skip the first `after` matches; then fire `count` times (default: forever). */
  after?: number
  count?: number
  /** Fire with this probability (seeded), default 1. */
  probability?: number
} & (
  | { kind: 'http'; status: number; message: string }
  | { kind: 'reset' }
  | { kind: 'delay'; seconds: number }
  | { kind: 'task-fail'; type?: string; vmid?: number; message: string }
  | { kind: 'nextid-race' }
  | { kind: 'mutate'; vmid: number; action: 'migrate' | 'rename' | 'retag' | 'delete' | 'replace'; value?: string }
)

export interface FaultSchedule { seed?: number; rules: FaultRule[] }

/** mulberry32: small, fast, seedable. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface ActiveRule { rule: FaultRule; seen: number; fired: number }

export class Faults {
  private rules: ActiveRule[] = []
  private rand: () => number
  /** Every fault that fired, for test assertions. */
  fired: { kind: string; method?: string; path?: string; at: number }[] = []

  constructor(schedule?: FaultSchedule) {
    this.rand = seededRandom(schedule?.seed ?? 1)
    for (const r of schedule?.rules ?? []) this.add(r)
  }

  add(rule: FaultRule) {
    this.rules.push({ rule, seen: 0, fired: 0 })
  }

  clear() {
    this.rules = []
  }

  list(): FaultRule[] {
    return this.rules.map((r) => r.rule)
  }

  /** The first rule of one of `kinds` that fires for this event (counts and probability applied). */
  take<K extends FaultRule['kind']>(kinds: K[], event: { method?: string; path?: string; node?: string; type?: string; vmid?: number }): Extract<FaultRule, { kind: K }> | undefined {
    for (const a of this.rules) {
      const r = a.rule
      if (!kinds.includes(r.kind as K)) continue
      if (r.method && event.method && !r.method.split('|').includes(event.method)) continue
      if (r.path && (!event.path || !new RegExp(r.path).test(event.path))) continue
      if (r.node && event.node && r.node !== event.node) continue
      if (r.kind === 'task-fail' && ((r.type && r.type !== event.type) || (r.vmid && r.vmid !== event.vmid))) continue
      if (a.seen++ < (r.after ?? 0)) continue
      if (r.count !== undefined && a.fired >= r.count) continue
      if (r.probability !== undefined && this.rand() >= r.probability) continue
      a.fired++
      this.fired.push({ kind: r.kind, method: event.method, path: event.path, at: Date.now() })
      return r as Extract<FaultRule, { kind: K }>
    }
    return undefined
  }
}
