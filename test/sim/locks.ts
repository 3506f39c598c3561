// PVE's hidden lock layers, modelled so concurrency limits emerge instead of being scripted:
// flock-style reader/writer locks with an acquisition timeout (the per-VM config lock
// /var/lock/qemu-server/lock-<id>.conf, pve-migrate-<id>, local storage locks) and the
// cluster-wide cfs-lock used for shared storages. Waiters are served FIFO.
import { type Clock, PveError } from './clock.ts'

type Mode = 'shared' | 'exclusive'
interface Waiter { mode: Mode; grant: () => void }
interface LockState { exclusive: boolean; shared: number; queue: Waiter[] }

export type Release = () => void

export class LockTable {
  private locks = new Map<string, LockState>()
  private clock: Clock
  constructor(clock: Clock) {
    this.clock = clock
  }

  private state(key: string): LockState {
    let s = this.locks.get(key)
    if (!s) this.locks.set(key, (s = { exclusive: false, shared: 0, queue: [] }))
    return s
  }

  private canGrant(s: LockState, mode: Mode) {
    return mode === 'shared' ? !s.exclusive && !s.queue.some((w) => w.mode === 'exclusive') : !s.exclusive && s.shared === 0
  }

  isFree(key: string, mode: Mode = 'exclusive'): boolean {
    const s = this.locks.get(key)
    return !s || (this.canGrant(s, mode) && s.queue.length === 0)
  }

  /**
   * Takes the lock, waiting at most `timeoutSeconds` (simulated). On timeout throws `timeoutMessage`.
   * `onWait` is called once when the lock is not free at once (PVE logs "trying to acquire lock...").
   */
  async acquire(key: string, mode: Mode, timeoutSeconds: number, timeoutMessage: string, onWait?: () => void): Promise<Release> {
    const s = this.state(key)
    const take = () => {
      if (mode === 'exclusive') s.exclusive = true
      else s.shared++
      let released = false
      return () => {
        if (released) return
        released = true
        if (mode === 'exclusive') s.exclusive = false
        else s.shared--
        this.pump(key, s)
      }
    }
    if (s.queue.length === 0 && this.canGrant(s, mode)) return take()
    onWait?.()
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        mode,
        grant: () => {
          clearTimeout(timer)
          resolve(take())
        },
      }
      const timer = setTimeout(() => {
        s.queue.splice(s.queue.indexOf(waiter), 1)
        this.pump(key, s)
        reject(new PveError(timeoutMessage))
      }, Math.max(this.clock.ms(timeoutSeconds), this.clock.lockWaitFloorMs))
      s.queue.push(waiter)
    })
  }

  private pump(key: string, s: LockState) {
    while (s.queue.length && (s.queue[0].mode === 'shared' ? !s.exclusive : !s.exclusive && s.shared === 0)) {
      const w = s.queue.shift()!
      w.grant()
      if (w.mode === 'exclusive') break
    }
    if (!s.exclusive && s.shared === 0 && s.queue.length === 0) this.locks.delete(key)
  }
}

export const vmLockPath = (vmid: number) => `/var/lock/qemu-server/lock-${vmid}.conf`
export const migrateLockPath = (vmid: number) => `/var/lock/pve-manager/pve-migrate-${vmid}`
export const storageLockPath = (storage: string) => `/var/lock/pve-manager/pve-storage-${storage}`
export const flockTimeout = (path: string) => `can't lock file '${path}' - got timeout`
export const cfsLockTimeout = (storage: string) => `cfs-lock 'storage-${storage}' error: got lock request timeout`

/**
 * Copy bandwidth of one storage, shared equally by concurrent transfers (processor sharing), so
 * parallel full clones onto one storage take as long in total as sequential ones.
 */
export class BandwidthPool {
  private active = new Set<{ remaining: number; done: () => void; fail: (e: unknown) => void }>()
  private lastUpdate = 0
  private timer?: ReturnType<typeof setTimeout>
  private clock: Clock
  /** Bytes per simulated second. */
  bandwidth: number
  highWater = 0
  constructor(clock: Clock, bandwidth: number) {
    this.clock = clock
    this.bandwidth = bandwidth
  }

  get concurrency() {
    return this.active.size
  }

  transfer(bytes: number, signal?: AbortSignal): Promise<void> {
    if (bytes <= 0) return Promise.resolve()
    this.settle()
    return new Promise((resolve, reject) => {
      const job = {
        remaining: bytes,
        done: () => resolve(),
        fail: (e: unknown) => reject(e),
      }
      signal?.addEventListener('abort', () => {
        this.settle()
        if (this.active.delete(job)) {
          job.fail(signal.reason)
          this.reschedule()
        }
      }, { once: true })
      this.active.add(job)
      this.highWater = Math.max(this.highWater, this.active.size)
      this.reschedule()
    })
  }

  private rate() {
    return this.bandwidth / Math.max(1, this.active.size)
  }

  /** Applies the progress made since the last update. */
  private settle() {
    const now = performance.now()
    if (this.active.size && this.lastUpdate) {
      const simElapsed = (now - this.lastUpdate) / 1000 / this.clock.timeFactor
      const progressed = simElapsed * this.rate()
      for (const job of this.active) job.remaining -= progressed
    }
    this.lastUpdate = now
  }

  private reschedule() {
    clearTimeout(this.timer)
    for (const job of [...this.active]) {
      if (job.remaining <= 1) {
        this.active.delete(job)
        job.done()
      }
    }
    if (!this.active.size) return
    const next = Math.min(...[...this.active].map((j) => j.remaining))
    this.timer = setTimeout(() => {
      this.settle()
      this.reschedule()
    }, Math.max(0, this.clock.ms(next / this.rate())))
  }
}
