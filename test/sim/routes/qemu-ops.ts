// Clone, migrate (+ pre-check), snapshots and the guest agent.
import { PveError, paramError } from '../clock.ts'
import type { SimContext } from '../context.ts'
import type { ApiRequest, Router } from '../router.ts'
import { formatSize, isCdrom, parseDrive, printDrive, type Snapshot, type Vm } from '../state.ts'
import type { TaskContext } from '../tasks.ts'
import { bool, en, int, node, opt, params, poolid, snapname, str, storageId, vmid } from '../validate/schema.ts'
import { normalizeNet, now } from '../vmconfig.ts'
import { addToPool, checkPool, haManaged, newVm, startVm, stopVm, withLock, worker } from './qemu.ts'
import { migrateLockPath, flockTimeout } from '../locks.ts'

const vmPath = { node, vmid }
const stamp = () => new Date().toISOString().replace('T', ' ').slice(0, 19)

const DROP_ON_CLONE = /^(snapshots|parent|snaptime|vmstate|snapstate|running.*|unused\d+|template|lock)$/

function cloneChecks(req: ApiRequest) {
  const { sim, params: p } = req
  const src = sim.state.vmOnNodeForRunCheck(req.node, p.vmid)
  checkPool(sim, p.pool)
  const target = p.target && p.target !== 'localhost' && p.target !== req.node ? p.target : undefined
  if (target) sim.state.node(target)
  if (p.storage) {
    const s = sim.state.storageOnNode(p.storage, req.node)
    if (!s.content.includes('images')) throw paramError({ storage: `storage '${p.storage}' does not support vm images` })
    if (target && !s.shared) throw new PveError(`can't clone to non-shared storage '${p.storage}'`)
  }
  sim.checkLock(src)
  const isTemplate = src.config.template === '1'
  const full = p.full !== undefined ? !!p.full : !isTemplate
  let config = src.config
  if (p.snapname) {
    const snap = src.snapshots.get(p.snapname)
    if (!snap) throw new PveError(`snapshot '${p.snapname}' does not exist`)
    config = snap.config
  }
  if (!full && p.storage) throw new PveError("parameter 'storage' not allowed for linked clones")
  if (!full && p.format) throw new PveError("parameter 'format' not allowed for linked clones")
  const drives = sim.state.drives(config)
  for (const [, d] of drives) {
    const storeid = p.storage && full && !isCdrom(d) ? p.storage : d.volid.split(':')[0]
    if (d.volid !== 'none' && d.volid.includes(':')) sim.access.require(req.id, `/storage/${storeid}`, ['Datastore.AllocateSpace'])
  }
  if (target) {
    for (const [, d] of drives) {
      if (d.volid === 'none' || !d.volid.includes(':')) continue
      if (!sim.state.storage(d.volid.split(':')[0]).shared) throw new PveError(`can't clone VM to node '${target}' (VM uses local storage)`)
    }
  }
  const existing = sim.state.vms.get(p.newid)
  if (existing) throw new PveError(`unable to create VM ${p.newid}: config file already exists`)
  for (const [key, d] of drives) {
    if (isCdrom(d) && !/-cloudinit/.test(d.volid)) continue
    if (key === 'tpmstate0' && src.status === 'running') throw new PveError('cannot clone TPM state while VM is running')
    const name = d.volid.split(':')[1] ?? ''
    const storage = sim.state.storage(d.volid.split(':')[0])
    if (!full && !/-cloudinit/.test(d.volid)) {
      const fromBase = /(^|\/)base-\d+-disk-/.test(name)
      const fromSnapshot = !!p.snapname && (storage.type === 'lvmthin' || storage.type === 'rbd')
      if (!fromBase && !fromSnapshot) throw new PveError(`Linked clone feature is not supported for '${d.volid}' (${key})`)
    }
  }
  return { src, target, full, config, drives }
}

async function cloneDisk(sim: SimContext, t: TaskContext, src: Vm, dst: Vm, key: string, value: string, full: boolean, storeOverride: string | undefined, format: string | undefined, created: string[]): Promise<string> {
  const d = parseDrive(key, value)
  if (isCdrom(d) && !/-cloudinit/.test(d.volid)) return value
  const srcVol = sim.state.findVolume(src.node, d.volid)
  if (!srcVol) throw new PveError(`volume '${d.volid}' does not exist`)
  const cloudinit = /-cloudinit/.test(d.volid)
  const storage = sim.state.storage(full && storeOverride && !cloudinit ? storeOverride : srcVol.storage)
  const fmt = full ? (format ?? (storage.id === srcVol.storage ? srcVol.format : sim.state.defaultFormat(storage))) : srcVol.format
  let volid: string
  if (cloudinit) {
    volid = sim.state.diskVolid(storage, dst.vmid, `vm-${dst.vmid}-cloudinit`, fmt)
  } else if (full) {
    t.log(`create full clone of drive ${key} (${d.volid})`)
    volid = sim.state.newDiskName(storage, src.node, dst.vmid, fmt)
  } else {
    t.log(`create linked clone of drive ${key} (${d.volid})`)
    const name = sim.state.newDiskName(storage, src.node, dst.vmid, fmt)
    volid = storage.type === 'dir' || storage.type === 'nfs' ? `${storage.id}:${d.volid.split(':')[1]}/${name.split(':')[1]}` : name
  }
  await sim.allocate(storage, src.node, t, () =>
    sim.state.addVolume({ volid, storage: storage.id, node: storage.shared ? undefined : src.node, vmid: dst.vmid, size: srcVol.size, format: fmt, content: 'images', ctime: now(), ...(full || cloudinit ? {} : { base: d.volid }) }))
  created.push(volid)
  t.failPoint()
  if (full && !cloudinit) {
    t.log(`transferred 0.0 B of ${formatSize(srcVol.size)} (0.00%)`)
    await sim.copy(storage, src.node, srcVol.size, t.signal)
    t.log(`transferred ${formatSize(srcVol.size)} of ${formatSize(srcVol.size)} (100.00%)`)
  }
  return printDrive({ volid, opts: { ...d.opts, size: formatSize(srcVol.size) } })
}

function registerClone(r: Router) {
  r.add({
    method: 'POST', path: '/nodes/{node}/qemu/{vmid}/clone', proxyto: 'node',
    permissions: { check: ['and', ['perm', '/vms/{vmid}', ['VM.Clone']], ['or', ['perm', '/vms/{newid}', ['VM.Allocate']], ['perm', '/pool/{pool}', ['VM.Allocate'], 'require_param', 'pool']]] },
    params: params({
      ...vmPath, newid: vmid, bwlimit: opt(int({ minimum: 0 })), description: opt(str()), format: opt(en(['raw', 'qcow2', 'vmdk'])),
      full: opt(bool()), name: opt(str({ format: 'dns-name' })), pool: opt(poolid), snapname: opt(snapname), storage: opt(storageId), target: opt(node),
    }),
    handler: (req) => {
      const { sim, params: p } = req
      const { src } = cloneChecks(req)
      return worker(req, 'qmclone', p.vmid, async (t) => {
        const releaseSrc = await sim.lockVm(src.vmid, { timeout: 1, shared: src.status !== 'running', task: t })
        let releaseDst: (() => void) | undefined
        const created: string[] = []
        let dst: Vm | undefined
        try {
          releaseDst = await sim.lockVm(p.newid, { timeout: 1, task: t })
          const { target, full, config, drives } = cloneChecks(req)
          if (sim.state.vms.has(p.newid)) throw new PveError(`unable to create VM ${p.newid}: config file already exists`)
          dst = newVm(sim, req.node, p.newid, { lock: 'clone' })
          sim.state.vms.set(dst.vmid, dst)
          // The target's flock only guards creating its config; from then on `lock: clone` does.
          releaseDst()
          releaseDst = undefined
          const newConfig: Record<string, string> = {}
          for (const [k, v] of Object.entries(config)) if (!DROP_ON_CLONE.test(k) && !drives.some(([dk]) => dk === k)) newConfig[k] = v
          newConfig.name = p.name ?? `Copy-of-VM-${config.name ?? src.vmid}`
          if (p.description !== undefined) newConfig.description = p.description
          else delete newConfig.description
          const smbios = (config.smbios1 ?? '').split(',').filter((x) => x && !x.startsWith('uuid='))
          newConfig.smbios1 = [`uuid=${crypto.randomUUID()}`, ...smbios].join(',')
          if (config.vmgenid) newConfig.vmgenid = crypto.randomUUID()
          for (const k of Object.keys(newConfig)) if (/^net\d+$/.test(k)) newConfig[k] = normalizeNet(newConfig[k], sim.rand, true)
          if (Object.keys(src.pending).length && !p.snapname) t.warn('pending changes of the source are not cloned')
          for (const [key] of drives) newConfig[key] = await cloneDisk(sim, t, src, dst, key, config[key], full, p.storage, p.format, created)
          t.failPoint()
          dst.config = { ...newConfig, lock: 'clone' }
          delete dst.config.lock
          if (target) dst.node = target
          addToPool(sim, p.pool, dst.vmid)
        } catch (e) {
          for (const volid of created) {
            const vol = sim.state.findVolume(req.node, volid)
            if (vol) sim.state.removeVolume(vol)
          }
          if (dst && sim.state.vms.get(dst.vmid) === dst) sim.state.vms.delete(dst.vmid)
          if (t.signal.aborted) throw e
          throw new PveError(`clone failed: ${(e as Error).message}`)
        } finally {
          releaseDst?.()
          releaseSrc()
        }
      })
    },
  })
}

function localDisks(sim: SimContext, vm: Vm) {
  const out: { volid: string; size: number; cdrom: number; is_unused: number; drivename?: string; storage: string }[] = []
  for (const [k, v] of Object.entries(vm.config)) {
    const isDrive = /^(ide|sata|scsi|virtio)\d+$|^(efidisk|tpmstate)0$/.test(k)
    const isUnused = /^unused\d+$/.test(k)
    if (!isDrive && !isUnused) continue
    const d = parseDrive(k, v)
    if (d.volid === 'none' || !d.volid.includes(':')) continue
    const storage = sim.state.storage(d.volid.split(':')[0])
    if (storage.shared) continue
    const vol = sim.state.findVolume(vm.node, d.volid)
    const cdrom = isCdrom(d) && !/-cloudinit/.test(d.volid)
    out.push({ volid: d.volid, size: vol?.size ?? 0, cdrom: cdrom ? 1 : 0, is_unused: isUnused ? 1 : 0, ...(isDrive ? { drivename: k } : {}), storage: storage.id })
  }
  return out
}

function registerMigrate(r: Router) {
  r.add({
    method: 'GET', path: '/nodes/{node}/qemu/{vmid}/migrate', proxyto: 'node',
    permissions: { check: ['perm', '/vms/{vmid}', ['VM.Migrate']] },
    params: params({ ...vmPath, target: opt(node) }),
    handler: ({ sim, node: n, params: p }) => {
      const vm = sim.state.vmOnNode(n, p.vmid)
      sim.checkLock(vm)
      const disks = localDisks(sim, vm)
      const allowed: string[] = []
      const notAllowed: Record<string, unknown> = {}
      const used = new Set(sim.state.drives(vm.config).map(([, d]) => d.volid.split(':')[0]).filter((s) => s && s !== 'none'))
      for (const other of sim.state.nodes.values()) {
        if (other.name === n) continue
        const unavailable = [...used].filter((s) => {
          const st = sim.state.storages.get(s)
          return st && st.nodes && !st.nodes.includes(other.name)
        })
        if (!other.online) notAllowed[other.name] = { unavailable_storages: unavailable, unavailable: 1 }
        else if (unavailable.length) notAllowed[other.name] = { unavailable_storages: unavailable }
        else allowed.push(other.name)
      }
      return {
        running: vm.status === 'running' ? 1 : 0,
        allowed_nodes: allowed,
        not_allowed_nodes: notAllowed,
        local_disks: disks.map(({ storage: _s, ...d }) => d),
        local_resources: Object.keys(vm.config).filter((k) => /^(hostpci|usb)\d+$/.test(k)),
        'mapped-resources': [],
        'mapped-resource-info': {},
        'has-dbus-vmstate': 0,
      }
    },
  })
  r.add({
    method: 'POST', path: '/nodes/{node}/qemu/{vmid}/migrate', proxyto: 'node',
    permissions: { check: ['perm', '/vms/{vmid}', ['VM.Migrate']] },
    params: params({
      ...vmPath, target: node, online: opt(bool()), force: opt(bool()), 'with-local-disks': opt(bool()), targetstorage: opt(str({ format: 'storage-pair-list' })),
      bwlimit: opt(int({ minimum: 0 })), migration_network: opt(str({ format: 'CIDR' })), migration_type: opt(en(['secure', 'insecure'])),
      'with-conntrack-state': opt(bool()),
    }),
    handler: (req) => {
      const { sim, params: p } = req
      if (req.id.authid !== 'root@pam') for (const k of ['force', 'migration_type', 'migration_network']) if (p[k] !== undefined) throw paramError({ [k]: 'Only root may use this option.' })
      if (p.target === req.node) throw paramError({ target: 'target is local node.' })
      const targetNode = sim.state.node(p.target)
      const vm = sim.state.vmOnNode(req.node, p.vmid)
      sim.checkLock(vm)
      if (vm.status === 'running' && !p.online) throw new PveError("can't migrate running VM without --online")
      if (!targetNode.online) throw new PveError(`target node '${p.target}' is not online`)
      const storageMap = (src: string) => {
        if (!p.targetstorage || p.targetstorage === '1') return src
        const entries = String(p.targetstorage).split(',')
        for (const e of entries) {
          const [a, b] = e.split(':')
          if (b !== undefined && a === src) return b
        }
        return entries.find((e) => !e.includes(':')) ?? src
      }
      for (const [, d] of sim.state.drives(vm.config)) {
        if (d.volid === 'none' || !d.volid.includes(':')) continue
        const sid = storageMap(d.volid.split(':')[0])
        const st = sim.state.storage(sid)
        if (st.nodes && !st.nodes.includes(p.target)) throw new PveError(`storage '${sid}' is not available on node '${p.target}'`)
      }
      if (haManaged(sim, vm.vmid)) {
        return worker(req, 'hamigrate', vm.vmid, async (t) => {
          t.log(`Requesting HA migration for VM ${vm.vmid} to node ${p.target}`)
          void migrateVm(sim, req, vm, p, storageMap, t, true)
        })
      }
      return worker(req, 'qmigrate', vm.vmid, (t) => migrateVm(sim, req, vm, p, storageMap, t, false))
    },
  })
}

async function migrateVm(sim: SimContext, req: ApiRequest, vm: Vm, p: Record<string, any>, storageMap: (s: string) => string, t: TaskContext, background: boolean) {
  const log = (line: string) => t.log(`${stamp()} ${line}`)
  const migrateRelease = await sim.locks.acquire(migrateLockPath(vm.vmid), 'exclusive', 10, flockTimeout(migrateLockPath(vm.vmid)))
  try {
    const release = await sim.lockVm(vm.vmid, { task: t })
    try {
      if (sim.state.vms.get(vm.vmid) !== vm || vm.node !== req.node) throw new PveError(`Configuration file 'nodes/${req.node}/qemu-server/${vm.vmid}.conf' does not exist`)
      sim.checkLock(vm)
      vm.config.lock = 'migrate'
    } finally {
      release()
    }
    const target = sim.state.node(p.target)
    let online = !!p.online && vm.status === 'running'
    if (p.online && vm.status !== 'running') {
      log("VM isn't running. Doing offline migration instead.")
      online = false
    }
    log(`starting migration of VM ${vm.vmid} to node '${target.name}' (${target.ip})`)
    try {
      const disks = localDisks(sim, vm)
      for (const d of disks) {
        if (d.cdrom) throw new PveError(`can't migrate local cdrom image '${d.volid}'`)
        const vol = sim.state.findVolume(vm.node, d.volid)
        if (vol?.base) throw new PveError(`can't migrate '${d.volid}' as it's a clone of '${vol.base}'`)
        if ([...sim.state.volumes.values()].some((v) => v.base === d.volid)) throw new PveError(`can't migrate '${d.volid}' - referenced by linked clone(s)`)
      }
      const devices = Object.keys(vm.config).filter((k) => /^(hostpci|usb)\d+$/.test(k) && !/spice|mapping=/.test(vm.config[k]))
      if (devices.length && !p.force) throw new PveError(`can't migrate VM which uses local devices: ${devices.join(', ')}`)
      if (online && disks.some((d) => !d.is_unused) && !p['with-local-disks']) {
        log("ERROR: can't live migrate attached local disks without with-local-disks option")
        throw new PveError('migration aborted')
      }
      t.failPoint()
      for (const d of disks) {
        const storage = sim.state.storage(storageMap(d.storage))
        log(`found local disk '${d.volid}' (${d.drivename ? `attached to VM` : 'unused'})`)
        log(`copying local disk images`)
        await sim.copy(storage, target.name, d.size, t.signal)
      }
      if (online) {
        log(`starting online/live migration on unix:/run/qemu-server/${vm.vmid}.migrate`)
        await t.sleep(1 + sim.state.memoryMiB(vm.config) / 1024)
        log('migration status: completed')
      } else await t.sleep(1)
      for (const d of disks) {
        const vol = sim.state.findVolume(vm.node, d.volid)
        if (!vol) continue
        const newStorage = sim.state.storage(storageMap(d.storage))
        sim.state.removeVolume(vol)
        const volid = newStorage.id === vol.storage ? vol.volid : sim.state.newDiskName(newStorage, target.name, vm.vmid, vol.format)
        sim.state.addVolume({ ...vol, storage: newStorage.id, node: newStorage.shared ? undefined : target.name, volid })
        for (const [k, v] of Object.entries(vm.config)) {
          if (!/^(ide|sata|scsi|virtio)\d+$|^(efidisk|tpmstate)0$|^unused\d+$/.test(k)) continue
          const dr = parseDrive(k, v)
          if (dr.volid === d.volid) vm.config[k] = printDrive({ volid, opts: dr.opts })
        }
      }
      vm.node = target.name
      delete vm.config.lock
      log(`migration finished successfully (duration 00:00:0${Math.min(9, Math.round(1 + sim.state.memoryMiB(vm.config) / 1024))})`)
    } catch (e) {
      delete vm.config.lock
      if (!(e instanceof PveError && e.message === 'migration aborted')) log(`ERROR: ${(e as Error).message}`)
      log('aborting phase 1 - cleanup resources')
      if (background) return
      throw new PveError('migration aborted')
    }
  } finally {
    migrateRelease()
  }
}

function registerSnapshots(r: Router) {
  r.add({
    method: 'GET', path: '/nodes/{node}/qemu/{vmid}/snapshot', proxyto: 'node',
    permissions: { check: ['perm', '/vms/{vmid}', ['VM.Audit']] },
    params: params(vmPath),
    handler: ({ sim, node: n, params: p }) => {
      const vm = sim.state.vmOnNode(n, p.vmid)
      const list: Record<string, unknown>[] = [...vm.snapshots.values()].map((s) => ({
        name: s.name, snaptime: s.snaptime, description: s.description, vmstate: s.vmstate ? 1 : 0,
        ...(s.parent ? { parent: s.parent } : {}), ...(s.snapstate ? { snapstate: s.snapstate } : {}),
      }))
      list.push({ name: 'current', digest: sim.state.digest(vm), running: vm.status === 'running' ? 1 : 0, description: 'You are here!', ...(vm.config.parent ? { parent: vm.config.parent } : {}) })
      return list
    },
  })
  r.add({
    method: 'POST', path: '/nodes/{node}/qemu/{vmid}/snapshot', proxyto: 'node',
    permissions: { check: ['perm', '/vms/{vmid}', ['VM.Snapshot']] },
    params: params({ ...vmPath, snapname, description: opt(str()), vmstate: opt(bool()) }),
    handler: (req) => {
      const { sim, params: p } = req
      const vm = sim.state.vmOnNode(req.node, p.vmid)
      if (/^(current|pending)$/i.test(p.snapname)) throw new PveError(`unable to use snapshot name '${p.snapname}' (reserved name)`)
      return worker(req, 'qmsnapshot', vm.vmid, async (t) => {
        await withLock(sim, vm.vmid, t, () => {
          if (vm.config.template === '1') throw new PveError("you can't take a snapshot if it's a template")
          sim.checkLock(vm)
          if (vm.snapshots.has(p.snapname)) throw new PveError(`snapshot name '${p.snapname}' already used`)
          for (const [, d] of sim.state.drives(vm.config)) {
            if (isCdrom(d)) continue
            const vol = sim.state.findVolume(vm.node, d.volid)
            if (vol && !sim.state.supportsSnapshot(sim.state.storage(vol.storage), vol.format)) throw new PveError('snapshot feature is not available')
          }
          t.failPoint()
          vm.config.lock = 'snapshot'
          const snap: Snapshot = { name: p.snapname, snaptime: now(), description: p.description ?? '', vmstate: !!p.vmstate && vm.status === 'running', parent: vm.config.parent, snapstate: 'prepare', config: {} }
          vm.snapshots.set(snap.name, snap)
        })
        const snap = vm.snapshots.get(p.snapname)!
        try {
          if (snap.vmstate) {
            t.log('saving VM state and RAM using storage')
            await t.sleep(1 + sim.state.memoryMiB(vm.config) / 1024)
          } else await t.sleep(1)
        } catch (e) {
          vm.snapshots.delete(snap.name)
          delete vm.config.lock
          throw e
        }
        await withLock(sim, vm.vmid, t, () => {
          const { lock: _lock, parent: _parent, ...config } = vm.config
          snap.config = config
          delete snap.snapstate
          vm.config.parent = snap.name
          delete vm.config.lock
        })
      })
    },
  })
  r.add({
    method: 'GET', path: '/nodes/{node}/qemu/{vmid}/snapshot/{snapname}', permissions: { user: 'all' },
    params: params({ ...vmPath, snapname }),
    handler: () => [{ rollback: 'rollback' }, { config: 'config' }],
  })
  r.add({
    method: 'GET', path: '/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config', proxyto: 'node',
    permissions: { check: ['perm', '/vms/{vmid}', ['VM.Snapshot', 'VM.Snapshot.Rollback', 'VM.Audit'], 'any', 1] },
    params: params({ ...vmPath, snapname }),
    handler: ({ sim, node: n, params: p }) => {
      const vm = sim.state.vmOnNode(n, p.vmid)
      const s = vm.snapshots.get(p.snapname)
      if (!s) throw new PveError(`snapshot '${p.snapname}' does not exist`)
      return { ...s.config, snaptime: s.snaptime, description: s.description, ...(s.parent ? { parent: s.parent } : {}), ...(s.vmstate ? { vmstate: 1 } : {}) }
    },
  })
  r.add({
    method: 'PUT', path: '/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config', proxyto: 'node',
    permissions: { check: ['perm', '/vms/{vmid}', ['VM.Snapshot']] },
    params: params({ ...vmPath, snapname, description: opt(str()) }),
    handler: async ({ sim, node: n, params: p }) => {
      const vm = sim.state.vmOnNode(n, p.vmid)
      const release = await sim.lockVm(vm.vmid)
      try {
        const s = vm.snapshots.get(p.snapname)
        if (!s) throw new PveError(`snapshot '${p.snapname}' does not exist`)
        if (p.description !== undefined) s.description = p.description
      } finally {
        release()
      }
      return null
    },
  })
  r.add({
    method: 'POST', path: '/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback', proxyto: 'node',
    permissions: { check: ['perm', '/vms/{vmid}', ['VM.Snapshot', 'VM.Snapshot.Rollback'], 'any', 1] },
    params: params({ ...vmPath, snapname, start: opt(bool()) }),
    handler: (req) => {
      const { sim, params: p } = req
      if (p.start) sim.access.require(req.id, `/vms/${p.vmid}`, ['VM.PowerMgmt'])
      return worker(req, 'qmrollback', p.vmid, async (t) => {
        const migrate = await sim.locks.acquire(migrateLockPath(p.vmid), 'exclusive', 10, flockTimeout(migrateLockPath(p.vmid)))
        try {
          let startAfter = false
          await withLock(sim, p.vmid, t, async () => {
            const vm = sim.state.vmOnNode(req.node, p.vmid)
            const snap = vm.snapshots.get(p.snapname)
            if (!snap) throw new PveError(`snapshot '${p.snapname}' does not exist`)
            if (snap.snapstate) throw new PveError(`unable to rollback to incomplete snapshot (snapstate = ${snap.snapstate})`)
            if (vm.config.template === '1') throw new PveError("you can't rollback if vm is a template")
            sim.checkLock(vm)
            t.failPoint()
            if (vm.status === 'running') {
              await t.sleep(1)
              stopVm(sim, vm)
            }
            vm.config.lock = 'rollback'
            await t.sleep(2)
            vm.config = { ...snap.config, parent: snap.name }
            vm.pending = {}
            vm.pendingDelete.clear()
            startAfter = snap.vmstate || !!p.start
          })
          if (startAfter) {
            const vm = sim.state.vmOnNode(req.node, p.vmid)
            await withLock(sim, p.vmid, t, () => startVm(sim, vm, t))
          }
        } finally {
          migrate()
        }
      })
    },
  })
  r.add({
    method: 'DELETE', path: '/nodes/{node}/qemu/{vmid}/snapshot/{snapname}', proxyto: 'node',
    permissions: { check: ['perm', '/vms/{vmid}', ['VM.Snapshot']] },
    params: params({ ...vmPath, snapname, force: opt(bool()) }),
    handler: (req) => {
      const { sim, params: p } = req
      return worker(req, 'qmdelsnapshot', p.vmid, async (t) => {
        const migrate = await sim.locks.acquire(migrateLockPath(p.vmid), 'exclusive', 10, 'Failed to obtain guest migration lock - replication running?')
        try {
          const vm = await withLock(sim, p.vmid, t, () => {
            const vm = sim.state.vmOnNode(req.node, p.vmid)
            const snap = vm.snapshots.get(p.snapname)
            if (!snap) throw new PveError(`snapshot '${p.snapname}' does not exist`)
            if (!p.force) sim.checkLock(vm)
            t.failPoint()
            vm.config.lock = 'snapshot-delete'
            snap.snapstate = 'delete'
            return vm
          })
          await t.sleep(1)
          await withLock(sim, p.vmid, t, () => {
            const snap = vm.snapshots.get(p.snapname)!
            for (const s of vm.snapshots.values()) if (s.parent === snap.name) s.parent = snap.parent
            if (vm.config.parent === snap.name) {
              if (snap.parent) vm.config.parent = snap.parent
              else delete vm.config.parent
            }
            vm.snapshots.delete(snap.name)
            delete vm.config.lock
          })
        } finally {
          migrate()
        }
      })
    },
  })
}

function registerAgent(r: Router) {
  r.add({
    method: 'GET', path: '/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces', proxyto: 'node',
    permissions: { check: ['perm', '/vms/{vmid}', ['VM.GuestAgent.Audit', 'VM.GuestAgent.Unrestricted'], 'any', 1] },
    params: params(vmPath),
    handler: ({ sim, node: n, params: p }) => {
      const vm = sim.state.vmOnNode(n, p.vmid)
      if (!/^(enabled=)?1/.test(vm.config.agent ?? '')) throw new PveError('No QEMU guest agent configured')
      if (vm.status !== 'running') throw new PveError(`VM ${vm.vmid} is not running`)
      const bootedFor = (Date.now() - vm.startedAt) / 1000 / sim.clock.timeFactor
      if (bootedFor < 15) throw new PveError('QEMU guest agent is not running')
      return { result: agentInterfaces(sim, vm) }
    },
  })
}

/** Interfaces the guest reports: static ipconfig addresses, else a DHCP lease on loopback. */
export function agentInterfaces(sim: SimContext, vm: Vm) {
  if (vm.agentInterfaces) return vm.agentInterfaces
  const out: Record<string, unknown>[] = [{ name: 'lo', 'hardware-address': '00:00:00:00:00:00', 'ip-addresses': [{ 'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4', prefix: 8 }] }]
  for (const k of Object.keys(vm.config).filter((x) => /^net\d+$/.test(x)).sort()) {
    const i = Number(k.slice(3))
    const mac = /=([0-9A-F:]{17})/i.exec(vm.config[k])?.[1]?.toLowerCase() ?? '00:00:00:00:00:00'
    const ipcfg = vm.config[`ipconfig${i}`] ?? ''
    const ip = /ip=([0-9.]+)\/(\d+)/.exec(ipcfg)
    const address = ip ? ip[1] : `127.200.${Math.floor(vm.vmid / 256) % 256}.${(vm.vmid % 254) + 1}`
    out.push({ name: `eth${i}`, 'hardware-address': mac, 'ip-addresses': [{ 'ip-address': address, 'ip-address-type': 'ipv4', prefix: ip ? Number(ip[2]) : 24 }] })
  }
  return out
}

export function register(r: Router) {
  registerClone(r)
  registerMigrate(r)
  registerSnapshots(r)
  registerAgent(r)
}

