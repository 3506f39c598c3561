// The simulator's runtime: one cluster state shared by all node listeners, plus time, locks,
// tasks, access control, faults and the request log. Route handlers receive it as `req.sim`.
import { appendFileSync } from 'node:fs'
import { AccessControl } from './auth.ts'
import { Clock, PveError } from './clock.ts'
import { Faults, seededRandom, type FaultSchedule } from './faults.ts'
import { BandwidthPool, cfsLockTimeout, flockTimeout, LockTable, storageLockPath, vmLockPath, type Release } from './locks.ts'
import { ClusterState, type Storage, type Vm } from './state.ts'
import { TaskManager, type TaskContext } from './tasks.ts'
import type { Control } from './control.ts'

export interface RequestRecord {
  t: string
  node: string
  method: string
  path: string
  params: Record<string, unknown>
  status: number
  ms: number
  authid?: string
  /** The request reached parameter validation (auth, route, permission and proxy passed). */
  validated?: boolean
  /** The simulator's schema validation rejected the parameters (400). */
  schemaRejected?: boolean
  /** Sent by a test on purpose with invalid input (header X-Sim-Negative: 1). */
  negative?: boolean
  /** Answered by an injected http fault before the parameters were read (`params` is empty). */
  fault?: string
}

const SECRET_KEYS = /pass(word)?$|secret|^value$|token-value|^cipassword$/i

export function redactParams(params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(params)) out[k] = SECRET_KEYS.test(k) ? '**********' : v
  return out
}

export interface SimOptions {
  timeFactor: number
  seed: number
  faults?: FaultSchedule
  requestLog?: string
  /** Wall-clock delay of 401 answers (PVE: 3 s); 0 in tests. */
  authFailureDelayMs?: number
  /** Simulated seconds /cluster/resources lags behind for status/name of new VMs (pvestatd). */
  statsLagSeconds?: number
}

export class SimContext {
  clock: Clock
  state = new ClusterState()
  access = new AccessControl()
  locks: LockTable
  tasks: TaskManager
  faults: Faults
  rand: () => number
  requests: RequestRecord[] = []
  opts: SimOptions
  private bandwidth = new Map<string, BandwidthPool>()
  /** Highest number of concurrent copies seen per storage scope (`local-lvm@pve1`, `ceph`). */
  storageHighWater = new Map<string, number>()
  /** Files on node filesystems (for import-from absolute paths and `qm importdisk`): path → size. */
  nodeFiles = new Map<string, number>()
  private recordFile?: string
  /** Set by startSimulator; the HTTP control API uses the same instance. */
  control?: Control
  /** SHA-256 fingerprints of the node certificates (GET /nodes ssl_fingerprint). */
  fingerprints = new Map<string, string>()
  /** Download-url sources: url → size in bytes; null = the server answers 404. */
  urls = new Map<string, number | null>()

  constructor(opts: SimOptions, recordFile?: string) {
    this.opts = opts
    this.clock = new Clock(opts.timeFactor)
    this.locks = new LockTable(this.clock)
    this.tasks = new TaskManager(this.clock, () => this.state.nextPid())
    this.faults = new Faults(opts.faults)
    this.rand = seededRandom(opts.seed)
    this.recordFile = recordFile
    this.tasks.faultFor = (type, id) => this.faults.take(['task-fail'], { type, vmid: Number(id) || undefined })?.message
    this.access.vmPool = (vmid) => [...this.state.pools.values()].find((p) => p.members.has(`qemu/${vmid}`))?.poolid
  }

  record(r: RequestRecord) {
    this.requests.push(r)
    const line = JSON.stringify(r) + '\n'
    if (this.opts.requestLog) appendFileSync(this.opts.requestLog, line)
    if (this.recordFile) appendFileSync(this.recordFile, line)
  }

  /** The copy bandwidth of a storage as seen from a node (shared storages: one pool cluster-wide). */
  pool(storage: Storage, node: string): BandwidthPool {
    const key = storage.shared ? storage.id : `${storage.id}@${node}`
    let p = this.bandwidth.get(key)
    if (!p) this.bandwidth.set(key, (p = new BandwidthPool(this.clock, storage.bandwidth)))
    return p
  }

  async copy(storage: Storage, node: string, bytes: number, signal: AbortSignal) {
    const pool = this.pool(storage, node)
    const key = storage.shared ? storage.id : `${storage.id}@${node}`
    const done = pool.transfer(bytes, signal)
    this.storageHighWater.set(key, Math.max(this.storageHighWater.get(key) ?? 0, pool.concurrency))
    await done
  }

  /** High-water marks of concurrency: running tasks per node, copies per storage. */
  highWater() {
    return { nodes: Object.fromEntries(this.tasks.highWater), storages: Object.fromEntries(this.storageHighWater) }
  }

  /** Size of a download-url source: registered, else 600 MiB (the simulator never fetches). */
  urlSize(url: string): number | undefined {
    const size = this.urls.get(url)
    return size === null ? undefined : (size ?? 600 * 1024 ** 2)
  }

  /** lock_config: the hidden per-VM flock (exclusive unless `shared`), 10 s by default. */
  lockVm(vmid: number, opts: { timeout?: number; shared?: boolean; task?: TaskContext } = {}): Promise<Release> {
    const path = vmLockPath(vmid)
    return this.locks.acquire(path, opts.shared ? 'shared' : 'exclusive', opts.timeout ?? 10, flockTimeout(path), () => opts.task?.log('trying to acquire lock...'))
  }

  /**
   * The storage allocation lock: a node-local flock for local storages, the cluster-wide cfs-lock
   * for shared ones. Allocation takes longer while copies are running on the storage (I/O load),
   * so many parallel clones on one storage time out like on real PVE.
   */
  async allocate<T>(storage: Storage, node: string, task: TaskContext, fn: () => T): Promise<T> {
    const key = storage.shared ? `cfs-lock storage-${storage.id}` : `${storageLockPath(storage.id)}@${node}`
    const message = storage.shared ? cfsLockTimeout(storage.id) : flockTimeout(storageLockPath(storage.id))
    const release = await this.locks.acquire(key, 'exclusive', 10, message, () => task.log('trying to acquire lock...'))
    try {
      await task.sleep(0.5 + this.pool(storage, node).concurrency * 1.0)
      return fn()
    } finally {
      release()
    }
  }

  /** PVE's check_lock: `VM is locked (<lock>)`. */
  checkLock(vm: Vm, skiplock = false) {
    if (vm.config.lock && !skiplock) throw new PveError(`VM is locked (${vm.config.lock})`)
  }
}
