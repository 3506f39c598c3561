// The control API: read state, scale time, take nodes offline, inject faults, hold locks, act like
// "someone else" on the cluster, and compute makespan lower bounds. In-process as `sim.control`;
// over HTTPS as `POST /sim/control {"action": "<method>", "args": [...]}` and `GET /sim/state`
// on any node listener, with the root token (see README.md).
import type { IncomingMessage } from 'node:http'
import { PveError } from './clock.ts'
import type { SimContext } from './context.ts'
import type { FaultRule } from './faults.ts'
import { flockTimeout, storageLockPath, vmLockPath } from './locks.ts'
import type { NodeListener } from './server.ts'
import { isCdrom, parseDrive, type BackupJob, type Vm } from './state.ts'
import { addVm, type VmSpec } from './inventory.ts'
import { applyConfigChange } from './vmconfig.ts'

export type PlanStep =
  | { op: 'clone'; from: number; full?: boolean; storage?: string }
  | { op: 'start' | 'stop' | 'shutdown' | 'reboot' | 'config' | 'resize' | 'snapshot' | 'rollback' | 'template' | 'destroy' | 'vzdump' }
  | { op: 'migrate'; vmid: number; target: string; online?: boolean }

export interface LowerBound {
  /** Makespan lower bound in simulated seconds. */
  seconds: number
  /** Longest chain of dependent steps (no contention). */
  criticalPath: number
  /** Copy + allocation time that must be serialised per storage scope. */
  storage: Record<string, number>
}

export class Control {
  private sim: SimContext
  private listeners: Map<string, NodeListener>
  constructor(sim: SimContext, listeners: Map<string, NodeListener>) {
    this.sim = sim
    this.listeners = listeners
  }

  /** A JSON snapshot of the cluster (for tests and `GET /sim/state`). */
  state() {
    const s = this.sim.state
    return {
      timeFactor: this.sim.clock.timeFactor,
      nodes: [...s.nodes.values()].map((n) => ({ name: n.name, ip: n.ip, online: n.online, mode: this.listeners.get(n.name)?.mode, maintenance: s.maintenance.has(n.name) })),
      vms: [...s.vms.values()].map((v) => ({ vmid: v.vmid, node: v.node, status: v.status, config: v.config, pending: v.pending, snapshots: [...v.snapshots.keys()] })),
      volumes: [...s.volumes.values()].map(({ backupConfig: _b, ...v }) => v),
      tasks: [...this.sim.tasks.tasks.values()].map((t) => ({ upid: t.upid, status: t.status, exitstatus: t.exitstatus })),
      pools: [...s.pools.values()].map((p) => ({ poolid: p.poolid, members: [...p.members] })),
      ha: [...s.ha.values()],
    }
  }

  vm(vmid: number): Vm | undefined {
    return this.sim.state.vms.get(vmid)
  }

  setTimeFactor(factor: number) {
    this.sim.clock.timeFactor = factor
  }

  /** online | offline (connection refused, 595 via other nodes) | blackhole (hangs, 596 via others). */
  async setNode(name: string, opts: { mode?: 'online' | 'offline' | 'blackhole'; slowSeconds?: number; maintenance?: boolean }) {
    const n = this.sim.state.node(name)
    const l = this.listeners.get(name)
    if (opts.mode) {
      n.online = opts.mode !== 'offline'
      await l?.setMode(opts.mode)
      if (opts.mode === 'offline') for (const vm of this.sim.state.vms.values()) if (vm.node === name) vm.status = 'stopped'
    }
    if (opts.slowSeconds !== undefined && l) l.slowSeconds = opts.slowSeconds
    if (opts.maintenance !== undefined) {
      if (opts.maintenance) {
        this.sim.state.maintenance.add(name)
        this.evacuateHa(name)
      } else {
        this.sim.state.maintenance.delete(name)
        this.returnHa(name)
      }
    }
  }

  /** HA resources on a node in maintenance move to the next online node (like the CRM does). */
  private evacuateHa(name: string) {
    const target = [...this.sim.state.nodes.values()].find((n) => n.name !== name && n.online && !this.sim.state.maintenance.has(n.name))
    if (!target) return
    for (const ha of this.sim.state.ha.values()) {
      const vm = this.sim.state.vms.get(ha.vmid)
      if (vm?.node !== name) continue
      vm.node = target.name
      this.sim.state.maintenanceOrigin.set(vm.vmid, name)
    }
  }

  /** When maintenance ends, the CRM moves the guests it moved away back to the node. */
  private returnHa(name: string) {
    for (const [vmid, origin] of this.sim.state.maintenanceOrigin) {
      if (origin !== name) continue
      this.sim.state.maintenanceOrigin.delete(vmid)
      const vm = this.sim.state.vms.get(vmid)
      if (vm && [...this.sim.state.ha.values()].some((ha) => ha.vmid === vmid)) vm.node = name
    }
  }

  addFault(rule: FaultRule) {
    this.sim.faults.add(rule)
  }

  clearFaults() {
    this.sim.faults.clear()
  }

  faultsFired() {
    return this.sim.faults.fired
  }

  /** Holds a hidden lock for `seconds` (simulated): a VM config lock or a storage allocation lock. */
  async holdLock(target: { vmid: number } | { storage: string; node: string }, seconds: number) {
    const release = 'vmid' in target
      ? await this.sim.lockVm(target.vmid)
      : await this.sim.locks.acquire(this.sim.state.storage(target.storage).shared ? `cfs-lock storage-${target.storage}` : `${storageLockPath(target.storage)}@${target.node}`, 'exclusive', 10, flockTimeout(storageLockPath(target.storage)))
    setTimeout(release, this.sim.clock.ms(seconds))
    return 'vmid' in target ? vmLockPath(target.vmid) : storageLockPath(target.storage)
  }

  /** Sets the visible `lock:` of a VM (e.g. a stale `backup` lock). */
  setLock(vmid: number, lock: string | null) {
    const vm = this.requireVm(vmid)
    if (lock) vm.config.lock = lock
    else delete vm.config.lock
  }

  /** `qm unlock`. */
  unlock(vmid: number) {
    this.setLock(vmid, null)
  }

  /** `qm importdisk <vmid> <source> <storage>`: imports a node file or volume as `unusedN`. */
  async importDisk(vmid: number, source: string, storage: string, format?: string): Promise<string> {
    const vm = this.requireVm(vmid)
    const before = new Set(Object.keys(vm.config))
    const t = { upid: '', signal: new AbortController().signal, log: () => {}, warn: () => {}, sleep: (s: number) => this.sim.clock.sleep(s), failPoint: () => {} }
    const release = await this.sim.lockVm(vmid)
    try {
      await applyConfigChange(this.sim, vm, { set: { scsi30: `${storage}:0,import-from=${source}${format ? `,format=${format}` : ''}` }, delete: [], revert: [], force: false }, t)
      const volid = parseDrive('scsi30', vm.config.scsi30).volid
      delete vm.config.scsi30
      const key = Array.from({ length: 256 }, (_, i) => `unused${i}`).find((k) => !vm.config[k] && !before.has(k))!
      vm.config[key] = volid
      return volid
    } finally {
      release()
    }
  }

  /** A scheduled backup job, as made in the GUI (Datacenter → Backup). */
  addBackupJob(job: BackupJob) {
    this.sim.state.backupJobs.set(job.id, { ...job })
  }

  /** A file on a node's filesystem (for `import-from=/path` and `qm importdisk`). */
  addFile(node: string, path: string, sizeBytes: number) {
    this.sim.nodeFiles.set(`${node}:${path}`, sizeBytes)
  }

  /** Size of a download-url source in bytes; null makes the download fail with 404. */
  addUrl(url: string, sizeBytes: number | null) {
    this.sim.urls.set(url, sizeBytes)
  }

  addUser(userid: string, opts: { groups?: string[]; enable?: boolean } = {}) {
    if (!this.sim.access.users.has(userid)) this.sim.access.addUser(userid, opts)
  }

  /**
   * Creates a token (and its user if needed) with ACL entries, e.g. a token that sees only part
   * of the cluster: `createToken('viewer@pve', 'ro', {acl: [{path: '/vms/100', role: 'PVEAuditor'}]})`.
   */
  createToken(userid: string, name: string, opts: { privsep?: boolean; acl?: { path: string; role: string; propagate?: boolean }[]; userAcl?: { path: string; role: string; propagate?: boolean }[] } = {}) {
    this.addUser(userid)
    const token = this.sim.access.addToken(userid, name, { privsep: opts.privsep ?? true })
    for (const a of opts.acl ?? []) this.sim.access.setAcl({ path: a.path, type: 'token', ugid: token.id, roleid: a.role, propagate: a.propagate ?? true })
    for (const a of opts.userAcl ?? opts.acl ?? []) this.sim.access.setAcl({ path: a.path, type: 'user', ugid: userid, roleid: a.role, propagate: a.propagate ?? true })
    return token
  }

  addVm(spec: VmSpec) {
    return addVm(this.sim, spec, [...this.sim.state.nodes.keys()][0])
  }

  /** Someone else changes a VM mid-run: migrate it, rename, retag, delete, or put another VM at its id. */
  mutate(vmid: number, action: 'migrate' | 'rename' | 'retag' | 'delete' | 'replace', value?: string) {
    const vm = this.requireVm(vmid)
    if (action === 'migrate') {
      const target = value ?? [...this.sim.state.nodes.keys()].find((n) => n !== vm.node)!
      for (const volid of this.sim.state.ownedVolids(vm)) {
        const vol = this.sim.state.findVolume(vm.node, volid)
        if (vol && vol.node) vol.node = target
      }
      this.sim.state.volumes = new Map([...this.sim.state.volumes.values()].map((v) => [`${v.node && !this.sim.state.storage(v.storage).shared ? `${v.node}/${v.storage}` : v.storage}|${v.volid}`, v]))
      vm.node = target
    } else if (action === 'rename') vm.config.name = value ?? `${vm.config.name ?? 'vm'}-renamed`
    else if (action === 'retag') {
      if (value) vm.config.tags = value
      else delete vm.config.tags
    } else if (action === 'delete') this.sim.state.vms.delete(vmid)
    else {
      this.sim.state.vms.delete(vmid)
      this.addVm({ vmid, node: vm.node, name: value ?? `foreign-${vmid}`, tags: 'foreign', disks: [8] })
    }
  }

  requests() {
    return this.sim.requests
  }

  highWater() {
    return this.sim.highWater()
  }

  /** Resolves when no task is running. */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.sim.tasks.tasks.values()].filter((t) => t.status === 'running')
      if (!running.length) return
      await Promise.all(running.map((t) => t.done))
    }
  }

  /**
   * Lower bound of the makespan (simulated seconds) for chains of dependent steps, under the
   * simulator's rules: steps of one chain run in order; copies on one storage share its
   * bandwidth; allocations on one storage are serialised by its lock. Chains of the form
   * `[{op:'clone', from}, {op:'start'}]` describe "clone then start" for one new VM.
   */
  lowerBound(chains: PlanStep[][]): LowerBound {
    const s = this.sim.state
    const storage: Record<string, number> = {}
    let criticalPath = 0
    const add = (key: string, secs: number) => (storage[key] = (storage[key] ?? 0) + secs)
    for (const chain of chains) {
      let total = 0
      for (const step of chain) {
        if (step.op === 'clone') {
          const src = this.requireVm(step.from)
          const full = step.full ?? src.config.template !== '1'
          for (const [, d] of s.drives(src.config)) {
            if (isCdrom(d) && !/-cloudinit/.test(d.volid)) continue
            const vol = s.findVolume(src.node, d.volid)
            const st = s.storage(full && step.storage ? step.storage : vol?.storage ?? d.volid.split(':')[0])
            const scope = st.shared ? st.id : `${st.id}@${src.node}`
            const copy = full && !/-cloudinit/.test(d.volid) ? (vol?.size ?? 0) / st.bandwidth : 0
            total += 0.5 + copy
            add(scope, 0.5 + copy)
          }
        } else if (step.op === 'migrate') {
          const vm = this.requireVm(step.vmid)
          // as the migration task sleeps: 1 s offline, 1 s + 1 s per GiB of memory online
          total += step.online ? 1 + s.memoryMiB(vm.config) / 1024 : 1
        } else {
          total += ({ start: 2, stop: 1, shutdown: 4, reboot: 6, config: 0, resize: 0.5, snapshot: 1, rollback: 2, template: 1.5, destroy: 1.3, vzdump: 2 } as Record<string, number>)[step.op] ?? 0
        }
      }
      criticalPath = Math.max(criticalPath, total)
    }
    const seconds = Math.max(criticalPath, ...Object.values(storage), 0)
    return { seconds, criticalPath, storage }
  }

  private requireVm(vmid: number): Vm {
    const vm = this.sim.state.vms.get(vmid)
    if (!vm) throw new PveError(`VM ${vmid} does not exist`)
    return vm
  }
}

/** `/sim/...` requests: root (non-privsep) token only. */
export async function handleControl(sim: SimContext, listeners: Map<string, NodeListener>, req: IncomingMessage, body: Buffer) {
  const id = sim.access.authenticate(req.headers.authorization)
  if (id.userid !== 'root@pam' || sim.access.users.get('root@pam')!.tokens.get(id.tokenid ?? '')?.privsep) throw new PveError('Permission check failed (control API needs the root token)', 403)
  const control = sim.control ?? new Control(sim, listeners)
  const path = (req.url ?? '').split('?')[0]
  if (req.method === 'GET' && path === '/sim/state') return { status: 200, data: control.state() }
  if (req.method === 'GET' && path === '/sim/requests') return { status: 200, data: control.requests() }
  if (req.method === 'GET' && path === '/sim/highwater') return { status: 200, data: control.highWater() }
  if (req.method === 'POST' && path === '/sim/control') {
    const { action, args } = JSON.parse(body.toString() || '{}') as { action: string; args?: unknown[] }
    const allowed = ['setTimeFactor', 'setNode', 'addFault', 'clearFaults', 'faultsFired', 'holdLock', 'setLock', 'unlock', 'importDisk', 'addFile', 'addUrl', 'addBackupJob', 'addUser', 'createToken', 'mutate', 'lowerBound', 'highWater', 'idle']
    if (!allowed.includes(action)) throw new PveError(`unknown control action '${action}'`, 400)
    const fn = (control as unknown as Record<string, (...a: unknown[]) => unknown>)[action]
    const data = await fn.apply(control, args ?? [])
    return { status: 200, data: data === undefined ? null : data }
  }
  throw new PveError(`Method '${req.method} ${path}' not implemented`, 501)
}

