// QEMU VM endpoints: list, create/restore, config (GET/PUT/POST, pending), status and power
// actions, delete, template, resize. Clone, migrate, snapshots and agent are in qemu-ops.ts.
import { PveError, paramError, permError } from '../clock.ts'
import type { SimContext } from '../context.ts'
import type { ApiRequest, Router } from '../router.ts'
import { formatSize, isCdrom, parseDrive, parseSize, printDrive, volidOwner, type Vm } from '../state.ts'
import type { TaskContext } from '../tasks.ts'
import { bool, en, int, node, opt, params, poolid, skiplock, str, storageId, vmid, digest, type ParamSchema } from '../validate/schema.ts'
import { qemuConfigProperties } from '../validate/qemu-formats.ts'
import { applyConfigChange, applyPending, effectiveConfig, keyPrivilege, materializeDrive, normalizeNet, normalizeValue, now, parseConfigChange } from '../vmconfig.ts'
import { configOut, vmStatus } from '../views.ts'

const vmPath = { node, vmid }
const rootOnly = (req: ApiRequest, keys: string[]) => {
  if (req.id.authid === 'root@pam') return
  for (const k of keys) if (req.params[k] !== undefined) throw paramError({ [k]: 'Only root may use this option.' })
}

/**
 * PVE's check_volume_access for `import-from`: a path outside PVE's storages is root@pam's alone
 * (an API token of root@pam is refused too: community.proxmox#243); a volume must be of type
 * images or import. Checked in the API handler, before any worker starts.
 */
function checkImportSources(req: ApiRequest, set: Record<string, string>) {
  for (const [key, value] of Object.entries(set)) {
    const source = /(?:^|,)import-from=([^,]+)/.exec(value)?.[1]
    if (!source) continue
    if (source.startsWith('/')) {
      if (req.id.authid !== 'root@pam') throw new PveError('Only root can pass arbitrary filesystem paths.')
      continue
    }
    const volume = req.sim.state.findVolume(req.node, source)
    if (volume && volume.content !== 'images' && volume.content !== 'import') throw paramError({ [key]: `${source} has wrong type '${volume.content}' - needs to be 'images' or 'import'` })
  }
}

/** Starts a worker on the handling node, owned by the caller. */
export function worker(req: ApiRequest, type: string, id: string | number, fn: (t: TaskContext) => Promise<void>): string {
  return req.sim.tasks.start(req.node, type, String(id), req.id.authid, fn).upid
}

export function haManaged(sim: SimContext, vmid: number) {
  return sim.state.ha.has(`vm:${vmid}`)
}

async function withLock<T>(sim: SimContext, vmid: number, t: TaskContext, fn: () => Promise<T> | T, timeout = 10): Promise<T> {
  const release = await sim.lockVm(vmid, { timeout, task: t })
  try {
    return await fn()
  } finally {
    release()
  }
}

/** A TaskContext for synchronous handlers (PUT config): logs go nowhere, no abort. */
export function syncContext(sim: SimContext): TaskContext {
  return { upid: '', signal: new AbortController().signal, log: () => {}, warn: () => {}, sleep: (s) => sim.clock.sleep(s), failPoint: () => {} }
}

export async function startVm(sim: SimContext, vm: Vm, t: TaskContext) {
  if (vm.config.template === '1') throw new PveError("you can't start a vm if it's a template")
  if (vm.config.lock && vm.config.lock !== 'suspended') throw new PveError(`VM is locked (${vm.config.lock})`)
  if (vm.status === 'running') throw new PveError(`VM ${vm.vmid} already running`)
  await t.sleep(2)
  applyPending(sim, vm)
  if (vm.config.lock === 'suspended') delete vm.config.lock
  vm.status = 'running'
  vm.qmpstatus = 'running'
  vm.startedAt = Date.now()
  vm.pid = sim.state.nextPid()
}

export function stopVm(sim: SimContext, vm: Vm) {
  vm.status = 'stopped'
  vm.qmpstatus = 'running'
  applyPending(sim, vm)
}

const configSpecial = new Set(['node', 'vmid', 'delete', 'revert', 'digest', 'skiplock', 'force', 'background_delay', 'import-working-storage'])

const configParams = (async: boolean) => params({
  ...vmPath,
  ...qemuConfigProperties,
  delete: opt(str({ format: 'pve-configid-list' })),
  revert: opt(str({ format: 'pve-configid-list' })),
  digest,
  skiplock,
  force: opt(bool({ requires: 'delete' })),
  ...(async ? { background_delay: opt(int({ minimum: 1, maximum: 30 })), 'import-working-storage': opt(storageId) } : {}),
})

const anyConfigPriv = ['VM.Config.Disk', 'VM.Config.CDROM', 'VM.Config.CPU', 'VM.Config.Memory', 'VM.Config.Network', 'VM.Config.HWType', 'VM.Config.Options', 'VM.Config.Cloudinit']

async function updateConfig(req: ApiRequest, async: boolean): Promise<unknown> {
  const { sim, params: p } = req
  rootOnly(req, ['skiplock'])
  const change = parseConfigChange(p, configSpecial)
  if (!Object.keys(change.set).length && !change.delete.length && !change.revert.length) throw new PveError('no options specified')
  const vmPathStr = `/vms/${p.vmid}`
  for (const k of [...Object.keys(change.set), ...change.delete, ...change.revert]) sim.access.require(req.id, vmPathStr, [keyPrivilege(k, change.set[k])])
  for (const [k, v] of Object.entries(change.set)) {
    const storage = /^([a-z][a-z0-9\-_.]*[a-z0-9]):\d+(\.\d+)?(,|$)/i.exec(v)
    if (keyPrivilege(k, v) === 'VM.Config.Disk' && storage) sim.access.require(req.id, `/storage/${storage[1]}`, ['Datastore.AllocateSpace'])
  }
  checkImportSources(req, change.set)
  const vm = sim.state.vmOnNode(req.node, p.vmid)
  const apply = async (t: TaskContext) => withLock(sim, vm.vmid, t, async () => {
    if (p.digest && p.digest !== sim.state.digest(vm)) throw new PveError('checksum mismatch (file change by other user?)')
    sim.checkLock(vm, !!p.skiplock)
    const balloon = change.set.balloon ?? vm.config.balloon
    const memory = sim.state.memoryMiB({ memory: change.set.memory ?? effectiveConfig(vm).memory ?? '512' })
    if (balloon !== undefined && Number(balloon) > memory) throw new PveError('balloon value too large (must be smaller than assigned memory)')
    t.failPoint()
    await applyConfigChange(sim, vm, change, t)
  })
  if (!async) {
    await apply(syncContext(sim))
    return null
  }
  const upid = worker(req, 'qmconfig', vm.vmid, async (t) => {
    t.log(`update VM ${vm.vmid}: ${Object.entries(change.set).map(([k, v]) => `-${k} ${k === 'cipassword' ? '<hidden>' : v}`).join(' ')}`)
    await apply(t)
  })
  if (p.background_delay) {
    const task = sim.tasks.tasks.get(upid)!
    const deadline = sim.clock.sleep(p.background_delay).then(() => 'timeout')
    const result = await Promise.race([task.done.then(() => 'done'), deadline])
    if (result === 'done') {
      if (task.exitstatus !== 'OK') throw new PveError(`failed to update VM ${vm.vmid}: ${task.exitstatus}`)
      return null
    }
  }
  return upid
}

function createParams(): Record<string, ParamSchema> {
  return {
    ...qemuConfigProperties,
    node, vmid,
    archive: opt(str({ maxLength: 255 })),
    bwlimit: opt(int({ minimum: 0 })),
    force: opt(bool({ requires: 'archive' })),
    'ha-managed': opt(bool()),
    'import-working-storage': opt(storageId),
    'live-restore': opt(bool()),
    pool: opt(poolid),
    start: opt(bool()),
    storage: opt(storageId),
    unique: opt(bool({ requires: 'archive' })),
  }
}

function newVm(sim: SimContext, nodeName: string, vmidNum: number, config: Record<string, string>): Vm {
  return { vmid: vmidNum, node: nodeName, config, pending: {}, pendingDelete: new Map(), snapshots: new Map(), status: 'stopped', qmpstatus: 'running', startedAt: 0, pid: 0, shutdownSeconds: 4 }
}

export function assertVmidUnused(sim: SimContext, vmidNum: number, prefix: string) {
  const existing = sim.state.vms.get(vmidNum)
  if (existing) throw new PveError(`${prefix} - VM ${vmidNum} already exists on node '${existing.node}'`)
}

export function addToPool(sim: SimContext, pool: string | undefined, vmidNum: number) {
  if (pool) sim.state.pools.get(pool)?.members.add(`qemu/${vmidNum}`)
}

export function checkPool(sim: SimContext, pool: string | undefined) {
  if (pool && !sim.state.pools.has(pool)) throw permError(`pool '${pool}' does not exist`)
}

async function createVm(req: ApiRequest) {
  const { sim, params: p } = req
  checkPool(sim, p.pool)
  const allowed = sim.access.has(req.id, `/vms/${p.vmid}`, ['VM.Allocate']) || (p.pool && sim.access.has(req.id, `/pool/${p.pool}`, ['VM.Allocate']))
  if (p.archive) return restoreVm(req, !!allowed)
  if (!allowed) throw permError(`/vms/${p.vmid}, VM.Allocate`)
  const special = new Set(['node', 'vmid', 'archive', 'bwlimit', 'force', 'ha-managed', 'import-working-storage', 'live-restore', 'pool', 'start', 'storage', 'unique'])
  const change = parseConfigChange(p, special)
  // check_vm_modify_config_perm: every setting needs its VM.Config.* privilege on the new VM (or its
  // pool); drives are left to the storage checks below, as PVE does.
  for (const [k, v] of Object.entries(change.set)) {
    const priv = keyPrivilege(k, v)
    if (priv === 'VM.Config.Disk' || priv === 'VM.Config.CDROM') continue
    if (!sim.access.has(req.id, `/vms/${p.vmid}`, [priv]) && !(p.pool && sim.access.has(req.id, `/pool/${p.pool}`, [priv]))) throw permError(`/vms/${p.vmid}, ${priv}`)
  }
  for (const [k, v] of Object.entries(change.set)) {
    const storage = /^([a-z][a-z0-9\-_.]*[a-z0-9]):/i.exec(v)
    if (storage && keyPrivilege(k, v) === 'VM.Config.Disk') {
      sim.state.storageOnNode(storage[1], req.node)
      sim.access.require(req.id, `/storage/${storage[1]}`, ['Datastore.AllocateSpace'])
    }
  }
  checkImportSources(req, change.set)
  assertVmidUnused(sim, p.vmid, `unable to create VM ${p.vmid}`)
  const vm = newVm(sim, req.node, p.vmid, { lock: 'create' })
  sim.state.vms.set(vm.vmid, vm)
  addToPool(sim, p.pool, vm.vmid)
  return worker(req, 'qmcreate', vm.vmid, async (t) => {
    try {
      await withLock(sim, vm.vmid, t, async () => {
        t.failPoint()
        const config: Record<string, string> = {}
        const created: string[] = []
        try {
          for (const [k, v] of Object.entries(change.set)) {
            if (/^(ide|sata|scsi|virtio)\d+$|^(efidisk|tpmstate)0$/.test(k)) config[k] = await materializeDrive(sim, vm, k, v, t, created)
            else if (/^net\d+$/.test(k)) config[k] = normalizeNet(v, sim.rand)
            else config[k] = normalizeValue(k, v, sim.rand)
          }
        } catch (e) {
          for (const volid of created) {
            const vol = sim.state.findVolume(vm.node, volid)
            if (vol) sim.state.removeVolume(vol)
          }
          throw e
        }
        config.smbios1 ??= `uuid=${crypto.randomUUID()}`
        config.vmgenid ??= crypto.randomUUID()
        config.meta = `creation-qemu=9.2.0,ctime=${now()}`
        if (!config.boot) {
          const order = Object.keys(config).filter((k) => /^(ide|sata|scsi|virtio)\d+$|^net\d+$/.test(k)).sort()
          if (order.length) config.boot = `order=${order.join(';')}`
        }
        vm.config = config
      }, 1)
    } catch (e) {
      sim.state.vms.delete(vm.vmid)
      throw new PveError(`unable to create VM ${vm.vmid} - ${(e as Error).message}`)
    }
    if (p['ha-managed']) sim.state.ha.set(`vm:${vm.vmid}`, { sid: `vm:${vm.vmid}`, type: 'vm', vmid: vm.vmid, state: 'started', max_restart: 1, max_relocate: 1, failback: true })
    if (p.start) {
      t.log('Execute autostart')
      await startVm(sim, vm, t)
    }
  })
}

async function restoreVm(req: ApiRequest, allocAllowed: boolean) {
  const { sim, params: p } = req
  const existing = sim.state.vms.get(p.vmid)
  if (!allocAllowed && !(existing && sim.access.has(req.id, `/vms/${p.vmid}`, ['VM.Backup']))) throw permError(`/vms/${p.vmid}, VM.Allocate`)
  const backup = sim.state.findVolume(req.node, p.archive)
  if (!backup || backup.content !== 'backup') throw new PveError(`volume '${p.archive}' does not exist`)
  if (existing) {
    if (!p.force) throw new PveError(`unable to restore VM ${p.vmid} - VM ${p.vmid} already exists on node '${existing.node}'`)
    if (existing.node !== req.node) throw new PveError(`unable to restore VM ${p.vmid} - VM ${p.vmid} already exists on node '${existing.node}'`)
    sim.checkLock(existing)
    if (existing.status === 'running') throw new PveError(`unable to restore VM ${p.vmid} - VM is running`)
  }
  const vm = existing ?? newVm(sim, req.node, p.vmid, {})
  vm.config.lock = 'create'
  sim.state.vms.set(vm.vmid, vm)
  addToPool(sim, p.pool, vm.vmid)
  return worker(req, 'qmrestore', vm.vmid, async (t) => {
    try {
      await withLock(sim, vm.vmid, t, async () => {
        t.failPoint()
        t.log(`restore vma archive: ${p.archive}`)
        for (const volid of existing ? sim.state.ownedVolids(existing) : []) {
          const vol = sim.state.findVolume(vm.node, volid)
          if (vol) sim.state.removeVolume(vol)
        }
        const config: Record<string, string> = {}
        const created: string[] = []
        for (const [k, v] of Object.entries(backup.backupConfig ?? {})) {
          if (/^(ide|sata|scsi|virtio)\d+$|^(efidisk|tpmstate)0$/.test(k) && !isCdrom(parseDrive(k, v))) {
            const d = parseDrive(k, v)
            const storeid = p.storage ?? d.volid.split(':')[0]
            const size = parseSize(d.opts.size ?? '0')
            const value = await materializeDrive(sim, vm, k, `${storeid}:${size / 1024 ** 3},${Object.entries(d.opts).filter(([o]) => o !== 'size').map(([o, x]) => `${o}=${x}`).join(',')}`.replace(/,$/, ''), t, created)
            t.log(`map '${k}' to '${parseDrive(k, value).volid}' (write zeros = 0)`)
            await sim.copy(sim.state.storage(storeid), vm.node, size, t.signal)
            config[k] = value
          } else if (/^net\d+$/.test(k) && p.unique) config[k] = normalizeNet(v, sim.rand, true)
          else if (!/^unused\d+$/.test(k)) config[k] = v
        }
        vm.config = config
        t.log(`restore of '${p.archive}' successful`)
      })
    } catch (e) {
      if (!existing) sim.state.vms.delete(vm.vmid)
      else delete vm.config.lock
      throw e
    }
    if (p.start) await startVm(sim, vm, t)
  })
}

export function register(r: Router) {
  r.add({
    method: 'GET', path: '/nodes/{node}/qemu', proxyto: 'node', permissions: { user: 'all' },
    params: params({ node, full: opt(bool()) }),
    handler: ({ sim, node: n, id }) =>
      [...sim.state.vms.values()].filter((vm) => vm.node === n && sim.access.has(id, `/vms/${vm.vmid}`, ['VM.Audit'])).map((vm) => vmStatus(sim, vm, false)),
  })
  r.add({
    method: 'POST', path: '/nodes/{node}/qemu', proxyto: 'node', permissions: { user: 'all' },
    params: params(createParams()), handler: createVm,
  })
  r.add({
    method: 'GET', path: '/nodes/{node}/qemu/{vmid}', proxyto: 'node', permissions: { user: 'all' },
    params: params(vmPath),
    handler: () => ['config', 'pending', 'status', 'unlink', 'vncproxy', 'termproxy', 'migrate', 'resize', 'move', 'rrd', 'rrddata', 'monitor', 'agent', 'snapshot', 'spiceproxy', 'sendkey', 'firewall', 'mtunnel', 'remote_migrate'].map((subdir) => ({ subdir })),
  })
  r.add({
    method: 'GET', path: '/nodes/{node}/qemu/{vmid}/config', proxyto: 'node',
    permissions: { check: ['perm', '/vms/{vmid}', ['VM.Audit']] },
    params: params({ ...vmPath, current: opt(bool()), snapshot: opt(str({ format: 'pve-configid', maxLength: 40 })) }),
    handler: ({ sim, node: n, params: p }) => {
      if (p.snapshot && p.current) throw paramError({ snapshot: 'option conflicts with option current', current: 'option conflicts with option snapshot' })
      const vm = sim.state.vmOnNode(n, p.vmid)
      if (p.snapshot) {
        const s = vm.snapshots.get(p.snapshot)
        if (!s) throw new PveError(`snapshot '${p.snapshot}' does not exist`)
        return { ...configOut(s.config), digest: sim.state.digest(vm) }
      }
      const config = p.current ? vm.config : effectiveConfig(vm)
      return { ...configOut(config), digest: sim.state.digest(vm) }
    },
  })
  r.add({
    method: 'PUT', path: '/nodes/{node}/qemu/{vmid}/config', proxyto: 'node',
    permissions: { check: ['perm', '/vms/{vmid}', anyConfigPriv, 'any', 1] },
    params: configParams(false), handler: (req) => updateConfig(req, false),
  })
  r.add({
    method: 'POST', path: '/nodes/{node}/qemu/{vmid}/config', proxyto: 'node',
    permissions: { check: ['perm', '/vms/{vmid}', anyConfigPriv, 'any', 1] },
    params: configParams(true), handler: (req) => updateConfig(req, true),
  })
  r.add({
    method: 'GET', path: '/nodes/{node}/qemu/{vmid}/pending', proxyto: 'node',
    permissions: { check: ['perm', '/vms/{vmid}', ['VM.Audit']] },
    params: params(vmPath),
    handler: ({ sim, node: n, params: p }) => {
      const vm = sim.state.vmOnNode(n, p.vmid)
      const keys = new Set([...Object.keys(vm.config), ...Object.keys(vm.pending), ...vm.pendingDelete.keys()])
      const typed = (k: string, v: string | undefined) => (v === undefined ? undefined : configOut({ [k]: v })[k])
      return [...keys].sort().map((key) => {
        const item: Record<string, unknown> = { key }
        if (vm.config[key] !== undefined) item.value = typed(key, vm.config[key])
        if (vm.pending[key] !== undefined) item.pending = typed(key, vm.pending[key])
        if (vm.pendingDelete.has(key)) item.delete = vm.pendingDelete.get(key) ? 2 : 1
        return item
      })
    },
  })
  r.add({
    method: 'GET', path: '/nodes/{node}/qemu/{vmid}/status', proxyto: 'node', permissions: { user: 'all' },
    params: params(vmPath),
    handler: () => [{ subdir: 'current' }, { subdir: 'start' }, { subdir: 'stop' }, { subdir: 'reset' }, { subdir: 'shutdown' }, { subdir: 'suspend' }, { subdir: 'reboot' }],
  })
  r.add({
    method: 'GET', path: '/nodes/{node}/qemu/{vmid}/status/current', proxyto: 'node',
    permissions: { check: ['perm', '/vms/{vmid}', ['VM.Audit']] },
    params: params(vmPath),
    handler: ({ sim, node: n, params: p }) => vmStatus(sim, sim.state.vmOnNode(n, p.vmid), true),
  })
  registerPower(r)
  r.add({
    method: 'DELETE', path: '/nodes/{node}/qemu/{vmid}', proxyto: 'node',
    permissions: { check: ['perm', '/vms/{vmid}', ['VM.Allocate']] },
    params: params({ ...vmPath, 'destroy-unreferenced-disks': opt(bool()), purge: opt(bool()), skiplock }),
    handler: (req) => {
      const { sim, params: p } = req
      rootOnly(req, ['skiplock'])
      const early = () => {
        const vm = sim.state.vmOnNode(req.node, p.vmid)
        if (vm.config.protection === '1') throw new PveError(`can't remove VM ${p.vmid} - protection mode enabled`)
        if (haManaged(sim, p.vmid) && !p.purge) throw new PveError(`unable to remove VM ${p.vmid} - used in HA resources and purge parameter not set.`)
        if (vm.status === 'running') throw new PveError(`VM ${p.vmid} is running - destroy failed`)
        return vm
      }
      const vm = early()
      return worker(req, 'qmdestroy', p.vmid, async (t) => {
        await withLock(sim, p.vmid, t, async () => {
          early()
          if (vm.config.lock !== 'suspended') sim.checkLock(vm, !!p.skiplock)
          t.failPoint()
          const owned = sim.state.ownedVolids(vm)
          if (vm.config.template === '1') {
            for (const volid of owned) {
              const user = [...sim.state.volumes.values()].find((v) => v.base === volid)
              if (user) throw new PveError(`base volume '${volid}' is still in use by linked cloned`)
            }
          }
          vm.config.lock = 'destroyed'
          for (const volid of owned) {
            const vol = sim.state.findVolume(vm.node, volid)
            if (!vol) continue
            await t.sleep(0.3)
            sim.state.removeVolume(vol)
            t.log(vol.storage.includes('lvm') ? `  Logical volume "${volid.split(':')[1]}" successfully removed.` : `Removed volume '${volid}'`)
          }
          if (p['destroy-unreferenced-disks']) {
            for (const vol of [...sim.state.volumes.values()]) {
              const visible = !vol.node || vol.node === vm.node
              if (visible && vol.content === 'images' && volidOwner(vol.volid) === vm.vmid) sim.state.removeVolume(vol)
            }
          }
          sim.access.acl = sim.access.acl.filter((e) => e.path !== `/vms/${vm.vmid}`)
          for (const pool of sim.state.pools.values()) pool.members.delete(`qemu/${vm.vmid}`)
          if (p.purge) {
            t.log(`purging VM ${vm.vmid} from related configurations..`)
            sim.state.ha.delete(`vm:${vm.vmid}`)
          }
          sim.state.vms.delete(vm.vmid)
        })
      })
    },
  })
  r.add({
    method: 'POST', path: '/nodes/{node}/qemu/{vmid}/template', proxyto: 'node',
    permissions: { check: ['perm', '/vms/{vmid}', ['VM.Allocate']] },
    params: params({ ...vmPath, disk: opt(en(['ide0', 'ide1', 'ide2', 'ide3', ...Array.from({ length: 31 }, (_, i) => `scsi${i}`), ...Array.from({ length: 16 }, (_, i) => `virtio${i}`), ...Array.from({ length: 6 }, (_, i) => `sata${i}`), 'efidisk0', 'tpmstate0'])) }),
    handler: (req) => {
      const { sim, params: p } = req
      const check = () => {
        const vm = sim.state.vmOnNode(req.node, p.vmid)
        sim.checkLock(vm)
        if (vm.snapshots.size) throw new PveError('unable to create template, because VM contains snapshots')
        if (vm.config.template === '1') throw new PveError("you can't convert a template to a template")
        if (vm.status === 'running') throw new PveError("you can't convert a VM to template if VM is running")
        return vm
      }
      const vm = check()
      return worker(req, 'qmtemplate', p.vmid, (t) => withLock(sim, p.vmid, t, async () => {
        check()
        t.failPoint()
        for (const [key, d] of sim.state.drives(vm.config)) {
          if (isCdrom(d) || (p.disk && p.disk !== key)) continue
          const vol = sim.state.findVolume(vm.node, d.volid)
          if (!vol) continue
          await t.sleep(0.5)
          const baseVolid = d.volid.replace(/(^|[:/])vm-(\d+)-disk-/, '$1base-$2-disk-')
          sim.state.removeVolume(vol)
          sim.state.addVolume({ ...vol, volid: baseVolid })
          vm.config[key] = printDrive({ volid: baseVolid, opts: d.opts })
          if (vol.storage.includes('lvm')) t.log(`  Renamed "${d.volid.split(':')[1]}" to "${baseVolid.split(':')[1]}" in volume group "pve"`)
        }
        vm.config.template = '1'
      }))
    },
  })
  r.add({
    method: 'PUT', path: '/nodes/{node}/qemu/{vmid}/resize', proxyto: 'node',
    permissions: { check: ['perm', '/vms/{vmid}', ['VM.Config.Disk']] },
    params: params({
      ...vmPath, digest, skiplock,
      disk: en(['ide0', 'ide1', 'ide2', 'ide3', ...Array.from({ length: 31 }, (_, i) => `scsi${i}`), ...Array.from({ length: 16 }, (_, i) => `virtio${i}`), ...Array.from({ length: 6 }, (_, i) => `sata${i}`), 'efidisk0', 'tpmstate0']),
      size: str({ pattern: '\\+?\\d+(\\.\\d+)?[KMGT]?' }),
    }),
    handler: (req) => {
      const { sim, params: p } = req
      rootOnly(req, ['skiplock'])
      return worker(req, 'resize', p.vmid, (t) => withLock(sim, p.vmid, t, async () => {
        const vm = sim.state.vmOnNode(req.node, p.vmid)
        if (p.digest && p.digest !== sim.state.digest(vm)) throw new PveError('checksum mismatch (file change by other user?)')
        sim.checkLock(vm, !!p.skiplock)
        const value = vm.config[p.disk]
        if (!value) throw new PveError(`disk '${p.disk}' does not exist`)
        const d = parseDrive(p.disk, value)
        if (isCdrom(d)) throw new PveError("you can't resize a cdrom")
        const vol = sim.state.findVolume(vm.node, d.volid)
        const current = vol?.size ?? parseSize(d.opts.size ?? '0')
        const requested = String(p.size)
        const target = requested.startsWith('+') ? current + parseSize(requested) : parseSize(requested)
        if (target < current) throw new PveError('shrinking disks is not supported')
        t.failPoint()
        if (target === current) return
        await t.sleep(0.5)
        t.log(`  Size of logical volume pve/${d.volid.split(':')[1]} changed from ${formatSize(current)} to ${formatSize(target)}.`)
        if (vol) vol.size = target
        d.opts.size = formatSize(target)
        vm.config[p.disk] = printDrive(d)
      }))
    },
  })
}

function registerPower(r: Router) {
  const power = (action: string, extra: Record<string, ParamSchema>, handler: (req: ApiRequest) => string) =>
    r.add({
      method: 'POST', path: `/nodes/{node}/qemu/{vmid}/status/${action}`, proxyto: 'node',
      permissions: { check: ['perm', '/vms/{vmid}', ['VM.PowerMgmt']] },
      params: params({ ...vmPath, ...extra }), handler,
    })

  power('start', {
    'force-cpu': opt(str()), machine: qemuConfigProperties.machine, migratedfrom: opt(node), migration_network: opt(str({ format: 'CIDR' })),
    migration_type: opt(en(['secure', 'insecure'])), 'nets-host-mtu': opt(str({ pattern: 'net\\d+=\\d+(,net\\d+=\\d+)*' })), skiplock,
    stateuri: opt(str({ maxLength: 128 })), targetstorage: opt(str({ format: 'storage-pair-list' })), timeout: opt(int({ minimum: 0 })),
    'with-conntrack-state': opt(bool()),
  }, (req) => {
    const { sim, params: p } = req
    rootOnly(req, ['skiplock', 'stateuri', 'migratedfrom', 'targetstorage', 'force-cpu', 'migration_type', 'migration_network', 'nets-host-mtu'])
    const type = haManaged(sim, p.vmid) ? 'hastart' : 'qmstart'
    return worker(req, type, p.vmid, (t) => withLock(sim, p.vmid, t, async () => {
      const vm = sim.state.vmOnNode(req.node, p.vmid)
      if (type === 'hastart') sim.state.ha.get(`vm:${p.vmid}`)!.state = 'started'
      if (vm.config.lock && !p.skiplock && vm.config.lock !== 'suspended') throw new PveError(`VM is locked (${vm.config.lock})`)
      t.failPoint()
      await startVm(sim, vm, t)
    }))
  })

  power('stop', { keepActive: opt(bool()), 'overrule-shutdown': opt(bool()), migratedfrom: opt(node), skiplock, timeout: opt(int({ minimum: 0 })) }, (req) => {
    const { sim, params: p } = req
    rootOnly(req, ['skiplock', 'keepActive', 'migratedfrom'])
    const type = haManaged(sim, p.vmid) ? 'hastop' : 'qmstop'
    return worker(req, type, p.vmid, async (t) => {
      const vm = sim.state.vmOnNodeForRunCheck(req.node, p.vmid)
      if (type === 'hastop') sim.state.ha.get(`vm:${p.vmid}`)!.state = 'stopped'
      if (vm.status !== 'running') return
      await withLock(sim, p.vmid, t, async () => {
        sim.checkLock(vm, !!p.skiplock)
        t.failPoint()
        await t.sleep(1)
        stopVm(sim, vm)
      })
    })
  })

  power('shutdown', { forceStop: opt(bool()), keepActive: opt(bool()), skiplock, timeout: opt(int({ minimum: 0 })) }, (req) => {
    const { sim, params: p } = req
    rootOnly(req, ['skiplock', 'keepActive'])
    const existing = sim.state.vms.get(p.vmid)
    if (existing?.node === req.node && existing.status === 'running' && existing.qmpstatus === 'paused' && !p.forceStop) throw new PveError('VM is paused - cannot shutdown')
    const type = haManaged(sim, p.vmid) ? 'hastop' : 'qmshutdown'
    return worker(req, type, p.vmid, async (t) => {
      const vm = sim.state.vmOnNodeForRunCheck(req.node, p.vmid)
      if (type === 'hastop') sim.state.ha.get(`vm:${p.vmid}`)!.state = 'stopped'
      if (vm.status !== 'running') return
      await withLock(sim, p.vmid, t, async () => {
        sim.checkLock(vm, !!p.skiplock)
        t.failPoint()
        const down = /down=(\d+)/.exec(vm.config.startup ?? '')?.[1]
        const timeout = p.timeout ?? (down ? Number(down) : 60)
        if (vm.shutdownSeconds > timeout) {
          await t.sleep(timeout)
          if (!p.forceStop) throw new PveError('VM quit/powerdown failed - got timeout')
          t.log('VM still running - terminating now with SIGTERM')
          await t.sleep(1)
        } else await t.sleep(vm.shutdownSeconds)
        stopVm(sim, vm)
      })
    })
  })

  const needsRunning = (req: ApiRequest) => {
    const vm = req.sim.state.vmOnNodeForRunCheck(req.node, req.params.vmid)
    if (vm.status !== 'running') throw new PveError(`VM ${vm.vmid} not running`)
    return vm
  }

  power('reboot', { timeout: opt(int({ minimum: 0 })) }, (req) => {
    const vm = needsRunning(req)
    if (vm.qmpstatus === 'paused') throw new PveError('VM is paused - cannot shutdown')
    return worker(req, 'qmreboot', vm.vmid, (t) => withLock(req.sim, vm.vmid, t, async () => {
      req.sim.checkLock(vm)
      t.failPoint()
      await t.sleep(Math.min(vm.shutdownSeconds, req.params.timeout ?? 60))
      stopVm(req.sim, vm)
      await startVm(req.sim, vm, t)
    }))
  })

  power('reset', { skiplock }, (req) => {
    rootOnly(req, ['skiplock'])
    const vm = needsRunning(req)
    return worker(req, 'qmreset', vm.vmid, (t) => withLock(req.sim, vm.vmid, t, async () => {
      req.sim.checkLock(vm, !!req.params.skiplock)
      t.failPoint()
      await t.sleep(0.5)
      applyPending(req.sim, vm)
      vm.startedAt = Date.now()
    }))
  })

  power('suspend', { skiplock, statestorage: opt(str({ format: 'pve-storage-id', requires: 'todisk' })), todisk: opt(bool()) }, (req) => {
    rootOnly(req, ['skiplock'])
    const vm = needsRunning(req)
    return worker(req, req.params.todisk ? 'qmsuspend' : 'qmpause', vm.vmid, (t) => withLock(req.sim, vm.vmid, t, async () => {
      req.sim.checkLock(vm, !!req.params.skiplock)
      t.failPoint()
      if (req.params.todisk) {
        vm.config.lock = 'suspending'
        await t.sleep(2 + req.sim.state.memoryMiB(vm.config) / 1024)
        vm.config.lock = 'suspended'
        vm.status = 'stopped'
      } else {
        await t.sleep(0.2)
        vm.qmpstatus = 'paused'
      }
    }))
  })

  power('resume', { skiplock, nocheck: opt(bool()) }, (req) => {
    rootOnly(req, ['skiplock', 'nocheck'])
    const vm = req.sim.state.vmOnNodeForRunCheck(req.node, req.params.vmid)
    if (vm.status !== 'running' && vm.config.lock !== 'suspended') throw new PveError(`VM ${vm.vmid} not running`)
    return worker(req, 'qmresume', vm.vmid, (t) => withLock(req.sim, vm.vmid, t, async () => {
      t.failPoint()
      if (vm.config.lock === 'suspended') await startVm(req.sim, vm, t)
      else {
        await t.sleep(0.2)
        vm.qmpstatus = 'running'
      }
    }))
  })
}

export { newVm, withLock }
