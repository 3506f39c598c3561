// Node endpoints: nodes list and status, network, tasks (list/status/log/stop), storage status and
// content (list, allocate, delete, notes/protection, upload, download-url), vzdump backups.
import { PveError, paramError, permError } from '../clock.ts'
import type { SimContext } from '../context.ts'
import type { ApiRequest, Router } from '../router.ts'
import { formatSize, GiB, isCdrom, volidOwner, type Storage, type Volume } from '../state.ts'
import { decodeUpid, type Task } from '../tasks.ts'
import { bool, en, int, node, opt, params, str, storageId, vmid } from '../validate/schema.ts'
import { splitList } from '../validate/formats.ts'
import { nodeItem, runningByNode, storageEnabledOn } from '../views.ts'
import { now } from '../vmconfig.ts'
import { worker } from './qemu.ts'

export function taskListItem(t: Task, cluster = false): Record<string, unknown> {
  const [user, tokenid] = t.user.split('!')
  const item: Record<string, unknown> = { upid: t.upid, node: t.node, pid: t.pid, pstart: t.pstart, starttime: t.starttime, type: t.type, id: t.id, user, ...(tokenid ? { tokenid } : {}) }
  if (t.status === 'stopped') Object.assign(item, { endtime: t.endtime, status: t.exitstatus })
  else if (!cluster) item.status = 'RUNNING'
  return item
}

function canSeeTask(sim: SimContext, req: ApiRequest, t: Task, priv = 'Sys.Audit') {
  if (t.user === req.id.authid) return true
  if (!req.id.tokenid && t.user.startsWith(`${req.id.userid}!`)) return true
  return sim.access.has(req.id, `/nodes/${t.node}`, [priv])
}

function findTask(req: ApiRequest): Task {
  const { sim, params: p } = req
  const decoded = decodeUpid(p.upid)
  if (!decoded) throw paramError({ upid: 'unable to parse worker upid' })
  const t = sim.tasks.tasks.get(p.upid)
  if (!t || t.node !== req.node) throw paramError({ upid: 'no such task' })
  return t
}

function registerTasks(r: Router) {
  r.add({
    method: 'GET', path: '/nodes/{node}/tasks', proxyto: 'node', permissions: { user: 'all' },
    params: params({
      node, errors: opt(bool()), limit: opt(int({ minimum: 0 })), since: opt(int()), source: opt(en(['archive', 'active', 'all'])), start: opt(int({ minimum: 0 })),
      statusfilter: opt(str({ format: 'pve-task-status-type-list' })), typefilter: opt(str()), until: opt(int()), userfilter: opt(str()), vmid: opt(vmid),
    }),
    handler: (req) => {
      const { sim, params: p } = req
      const source = p.source ?? 'archive'
      const statuses = p.statusfilter ? new Set(splitList(p.statusfilter)) : undefined
      const kind = (t: Task) => (t.status === 'running' ? 'running' : t.exitstatus === 'OK' ? 'ok' : /^WARNINGS/.test(t.exitstatus ?? '') ? 'warning' : 'error')
      const list = [...sim.tasks.tasks.values()]
        .filter((t) => t.node === req.node && canSeeTask(sim, req, t))
        .filter((t) => (source === 'archive' ? t.status === 'stopped' : source === 'active' ? t.status === 'running' : true))
        .filter((t) => (!p.typefilter || t.type === p.typefilter) && (!p.vmid || t.id === String(p.vmid)) && (!p.userfilter || t.user.includes(p.userfilter)))
        .filter((t) => (!p.errors || kind(t) === 'error') && (!statuses || statuses.has(kind(t))) && (!p.since || t.starttime >= p.since) && (!p.until || t.starttime <= p.until))
        .sort((a, b) => b.starttime - a.starttime || b.pstart - a.pstart)
      const start = p.start ?? 0
      const limit = p.limit ?? 50
      return { data: list.slice(start, start + limit).map((t) => taskListItem(t)), total: list.length }
    },
  })
  r.add({
    method: 'GET', path: '/nodes/{node}/tasks/{upid}', permissions: { user: 'all' },
    params: params({ node, upid: str() }),
    handler: () => [{ name: 'log' }, { name: 'status' }],
  })
  r.add({
    method: 'GET', path: '/nodes/{node}/tasks/{upid}/status', proxyto: 'node', permissions: { user: 'all' },
    params: params({ node, upid: str() }),
    handler: (req) => {
      const t = findTask(req)
      if (!canSeeTask(req.sim, req, t)) throw permError(`/nodes/${t.node}, Sys.Audit`)
      const [user, tokenid] = t.user.split('!')
      return {
        upid: t.upid, node: t.node, pid: t.pid, pstart: t.pstart, starttime: t.starttime, type: t.type, id: t.id, user,
        ...(tokenid ? { tokenid } : {}), status: t.status, ...(t.status === 'stopped' ? { exitstatus: t.exitstatus } : {}),
      }
    },
  })
  r.add({
    method: 'GET', path: '/nodes/{node}/tasks/{upid}/log', proxyto: 'node', permissions: { user: 'all' },
    params: params({ node, upid: str(), download: opt(bool()), limit: opt(int({ minimum: 0 })), start: opt(int({ minimum: 0 })) }),
    handler: (req) => {
      const t = findTask(req)
      if (!canSeeTask(req.sim, req, t)) throw permError(`/nodes/${t.node}, Sys.Audit`)
      const lines = t.log.length ? t.log : ['no content']
      const start = req.params.start ?? 0
      const limit = req.params.limit === 0 ? lines.length : (req.params.limit ?? 50)
      return { data: lines.slice(start, start + limit).map((text, i) => ({ n: start + i + 1, t: text })), total: lines.length }
    },
  })
  r.add({
    method: 'DELETE', path: '/nodes/{node}/tasks/{upid}', proxyto: 'node', permissions: { user: 'all' },
    params: params({ node, upid: str() }),
    handler: (req) => {
      const t = findTask(req)
      if (!canSeeTask(req.sim, req, t, 'Sys.Modify')) throw permError(`/nodes/${t.node}, Sys.Modify`)
      if (t.status === 'running') t.abort.abort(new Error('received interrupt'))
      return null
    },
  })
}

function volumeItem(v: Volume): Record<string, unknown> {
  const format = v.content === 'iso' ? 'iso' : v.content === 'backup' ? (v.volid.endsWith('.zst') ? 'vma.zst' : 'vma') : v.content === 'snippets' ? 'snippet' : v.format
  return {
    volid: v.volid, content: v.content, format, size: v.size, ctime: v.ctime,
    ...(v.content === 'images' ? { used: 0 } : {}),
    ...(v.vmid ? { vmid: v.vmid } : {}),
    ...(v.base ? { parent: v.base.split(':')[1] } : {}),
    ...(v.notes ? { notes: v.notes } : {}),
    ...(v.content === 'backup' ? { protected: v.protected ? 1 : 0, subtype: 'qemu' } : {}),
  }
}

function storageStatus(sim: SimContext, s: Storage, n: string) {
  const used = sim.state.usedBytes(s, n)
  return { storage: s.id, type: s.type, content: s.content.join(','), shared: s.shared ? 1 : 0, active: 1, enabled: 1, total: s.capacity, used, avail: Math.max(0, s.capacity - used), used_fraction: used / s.capacity }
}

function volumeFromPath(req: ApiRequest): { storage: Storage; vol: Volume } {
  const { sim, params: p } = req
  let volid = String(p.volume)
  if (!volid.includes(':')) {
    if (!p.storage) throw new PveError(`unable to parse volume ID '${volid}'`)
    volid = `${p.storage}:${volid}`
  }
  const storage = sim.state.storageOnNode(volid.split(':')[0], req.node)
  const vol = sim.state.volume(storage, req.node, volid)
  if (!vol) throw new PveError(`volume '${volid}' does not exist`)
  return { storage, vol }
}

const checksumParams = { checksum: opt(str({ requires: 'checksum-algorithm' })), 'checksum-algorithm': opt(en(['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'], { requires: 'checksum' })) }
const importContent = en(['iso', 'vztmpl', 'import'], { format: 'pve-storage-content' })

function contentVolid(storage: Storage, content: string, filename: string) {
  return `${storage.id}:${content === 'iso' ? 'iso' : content === 'vztmpl' ? 'vztmpl' : 'import'}/${filename}`
}

function checkFilename(content: string, filename: string) {
  const ok = content === 'iso' ? /\.(iso|img)$/i.test(filename) : content === 'vztmpl' ? /\.tar\.(gz|xz|zst)$/i.test(filename) : /\.(ova|ovf|qcow2|raw|vmdk|img)$/i.test(filename)
  if (!ok || filename.includes('/')) throw paramError({ filename: `wrong file extension` })
}

function registerStorage(r: Router) {
  r.add({
    method: 'GET', path: '/nodes/{node}/storage', proxyto: 'node', permissions: { user: 'all' },
    params: params({ node, content: opt(str({ format: 'pve-storage-content-list' })), enabled: opt(bool()), format: opt(bool()), storage: opt(storageId), target: opt(node) }),
    handler: ({ sim, id, node: n, params: p }) => {
      const want = p.content ? splitList(p.content) : []
      return [...sim.state.storages.values()]
        .filter((s) => storageEnabledOn(s, n) && (!p.storage || s.id === p.storage) && sim.access.has(id, `/storage/${s.id}`, ['Datastore.Audit', 'Datastore.AllocateSpace'], true))
        .filter((s) => want.every((c) => s.content.includes(c)))
        .map((s) => storageStatus(sim, s, n))
    },
  })
  r.add({
    method: 'GET', path: '/nodes/{node}/storage/{storage}/status', proxyto: 'node',
    permissions: { check: ['perm', '/storage/{storage}', ['Datastore.Audit', 'Datastore.AllocateSpace'], 'any', 1] },
    params: params({ node, storage: storageId }),
    handler: ({ sim, node: n, params: p }) => storageStatus(sim, sim.state.storageOnNode(p.storage, n), n),
  })
  r.add({
    method: 'GET', path: '/nodes/{node}/storage/{storage}/content', proxyto: 'node',
    permissions: { check: ['perm', '/storage/{storage}', ['Datastore.Audit', 'Datastore.AllocateSpace'], 'any', 1] },
    params: params({ node, storage: storageId, content: opt(str({ format: 'pve-storage-content' })), vmid: opt(vmid) }),
    handler: ({ sim, id, node: n, params: p }) => {
      const s = sim.state.storageOnNode(p.storage, n)
      return sim.state.volumesOn(s, n)
        .filter((v) => (!p.content || v.content === p.content) && (!p.vmid || v.vmid === p.vmid))
        .filter((v) => !v.vmid || v.content !== 'images' || sim.access.has(id, `/vms/${v.vmid}`, ['VM.Audit']) || sim.access.has(id, `/storage/${s.id}`, ['Datastore.Allocate']))
        .sort((a, b) => a.volid.localeCompare(b.volid))
        .map(volumeItem)
    },
  })
  r.add({
    method: 'POST', path: '/nodes/{node}/storage/{storage}/content', proxyto: 'node',
    permissions: { check: ['perm', '/storage/{storage}', ['Datastore.AllocateSpace']] },
    params: params({ node, storage: storageId, filename: str(), format: opt(en(['raw', 'qcow2', 'subvol', 'vmdk'], { requires: 'size' })), size: str({ pattern: '\\d+[MG]?' }), vmid }),
    handler: async (req) => {
      const { sim, params: p } = req
      sim.access.require(req.id, `/vms/${p.vmid}`, ['VM.Config.Disk'])
      const s = sim.state.storageOnNode(p.storage, req.node)
      const m = /^(\d+)([MG]?)$/.exec(p.size)!
      const size = Number(m[1]) * (m[2] === 'G' ? GiB : m[2] === 'M' ? 1024 ** 2 : 1024)
      const format = p.format ?? sim.state.defaultFormat(s)
      const name = String(p.filename)
      if (volidOwner(`x:${name}`) !== undefined && volidOwner(`x:${name}`) !== p.vmid) throw new PveError(`illegal name '${name}' - should be 'vm-${p.vmid}-*'`)
      const volid = sim.state.diskVolid(s, p.vmid, name.replace(/\.(qcow2|raw|vmdk)$/, ''), format)
      if (sim.state.volume(s, req.node, volid)) throw new PveError(`volume '${volid}' already exists`)
      sim.state.addVolume({ volid, storage: s.id, node: s.shared ? undefined : req.node, vmid: p.vmid, size, format, content: 'images', ctime: now() })
      return volid
    },
  })
  r.add({
    method: 'GET', path: '/nodes/{node}/storage/{storage}/content/{volume}', proxyto: 'node', permissions: { user: 'all' },
    params: params({ node, storage: opt(storageId), volume: str() }),
    handler: (req) => {
      const { vol } = volumeFromPath(req)
      req.sim.access.require(req.id, `/storage/${vol.storage}`, ['Datastore.Audit', 'Datastore.AllocateSpace'], true)
      return { path: `/var/lib/vz/${vol.volid.split(':')[1]}`, size: vol.size, used: vol.size, format: volumeItem(vol).format, ...(vol.notes ? { notes: vol.notes } : {}), ...(vol.content === 'backup' ? { protected: vol.protected ? 1 : 0 } : {}) }
    },
  })
  r.add({
    method: 'PUT', path: '/nodes/{node}/storage/{storage}/content/{volume}', proxyto: 'node', permissions: { user: 'all' },
    params: params({ node, storage: opt(storageId), volume: str(), notes: opt(str()), protected: opt(bool()) }),
    handler: (req) => {
      const { vol } = volumeFromPath(req)
      req.sim.access.require(req.id, `/storage/${vol.storage}`, ['Datastore.Allocate'])
      if (req.params.notes !== undefined) vol.notes = req.params.notes
      if (req.params.protected !== undefined) vol.protected = !!req.params.protected
      return null
    },
  })
  r.add({
    method: 'DELETE', path: '/nodes/{node}/storage/{storage}/content/{volume}', proxyto: 'node', permissions: { user: 'all' },
    params: params({ node, storage: opt(storageId), volume: str(), delay: opt(int({ minimum: 1, maximum: 30 })) }),
    handler: (req) => {
      const { sim } = req
      const { vol } = volumeFromPath(req)
      const backupAllowed = vol.content === 'backup' && vol.vmid && sim.access.has(req.id, `/vms/${vol.vmid}`, ['VM.Backup']) && sim.access.has(req.id, `/storage/${vol.storage}`, ['Datastore.AllocateSpace'])
      if (!backupAllowed) sim.access.require(req.id, `/storage/${vol.storage}`, ['Datastore.Allocate'])
      if (vol.protected) throw new PveError(`volume '${vol.volid}' is protected`)
      if (vol.content === 'images' && vol.vmid && sim.state.vms.has(vol.vmid)) {
        const owner = sim.state.vms.get(vol.vmid)!
        if (sim.state.ownedVolids(owner).includes(vol.volid)) throw new PveError(`unable to delete volume '${vol.volid}' - volume is still in use (referenced by VM ${vol.vmid})`)
      }
      if ([...sim.state.volumes.values()].some((v) => v.base === vol.volid)) throw new PveError(`base volume '${vol.volid}' is still in use by linked clones`)
      // pve-storage forks imgdel with an undef id: a volid (with ':') would break the UPID grammar
      return worker(req, 'imgdel', '', async (t) => {
        await t.sleep(0.3)
        t.failPoint()
        sim.state.removeVolume(vol)
        t.log(`Removed volume '${vol.volid}'`)
      })
    },
  })
  r.add({
    method: 'POST', path: '/nodes/{node}/storage/{storage}/upload',
    permissions: { check: ['perm', '/storage/{storage}', ['Datastore.AllocateTemplate']] },
    params: params({ node, storage: storageId, content: importContent, filename: str({ maxLength: 255 }), tmpfilename: opt(str({ pattern: '/var/tmp/pveupload-[0-9a-f]+' })), ...checksumParams }),
    handler: (req) => {
      const { sim, params: p } = req
      const s = sim.state.storageOnNode(p.storage, req.node)
      if (!s.content.includes(p.content)) throw new PveError(`storage '${s.id}' does not support '${p.content}' content`)
      checkFilename(p.content, p.filename)
      if (!req.file) throw new PveError('missing upload file')
      const volid = contentVolid(s, p.content, p.filename)
      const size = req.file.size
      return worker(req, 'imgcopy', '', async (t) => {
        t.log(`starting file import from: /var/tmp/pveupload-${Math.floor(sim.rand() * 1e12).toString(16)}`)
        if (p.checksum) t.log(`calculating checksum...OK, checksum verified`)
        t.failPoint()
        await t.sleep(0.5 + size / (500 * 1024 ** 2))
        sim.state.addVolume({ volid, storage: s.id, node: s.shared ? undefined : req.node, size, format: p.content === 'iso' ? 'iso' : 'raw', content: p.content, ctime: now() })
        t.log(`moving file to target: ${volid}`)
      })
    },
  })
  r.add({
    method: 'POST', path: '/nodes/{node}/storage/{storage}/download-url', proxyto: 'node',
    permissions: { check: ['and', ['perm', '/storage/{storage}', ['Datastore.AllocateTemplate']], ['or', ['perm', '/', ['Sys.Audit', 'Sys.Modify']], ['perm', '/nodes/{node}', ['Sys.AccessNetwork']]]] },
    params: params({ node, storage: storageId, content: importContent, filename: str({ maxLength: 255 }), url: str({ pattern: 'https?://.*' }), compression: opt(str()), 'verify-certificates': opt(bool()), ...checksumParams }),
    handler: (req) => {
      const { sim, params: p } = req
      const s = sim.state.storageOnNode(p.storage, req.node)
      if (!s.content.includes(p.content)) throw new PveError(`storage '${s.id}' does not support '${p.content}' content`)
      checkFilename(p.content, p.filename)
      const volid = contentVolid(s, p.content, p.filename)
      const size = sim.urlSize(p.url)
      // Where PVE's dir plugin keeps each content type (get_subdir): iso and vztmpl under template/.
      const subdir = { iso: 'template/iso', vztmpl: 'template/cache', import: 'import' }[p.content as string] ?? p.content
      const target = `${(s.path ?? '/var/lib/vz').replace(/\/+$/, '')}/${subdir}/${p.filename}`
      return worker(req, 'download', p.filename, async (t) => {
        t.log(`downloading ${p.url} to ${target}`)
        t.failPoint()
        if (size === undefined) throw new PveError(`download failed: 404 Not Found`)
        await t.sleep(1 + size / (100 * 1024 ** 2))
        t.log(`download of '${p.url}' to '${target}' finished`)
        if (p.checksum) t.log(`calculating checksum of '${p.filename}'... OK, checksum verified`)
        sim.state.addVolume({ volid, storage: s.id, node: s.shared ? undefined : req.node, size, format: p.content === 'iso' ? 'iso' : p.filename.split('.').pop()!, content: p.content, ctime: now() })
      })
    },
  })
}

function registerVzdump(r: Router) {
  r.add({
    method: 'POST', path: '/nodes/{node}/vzdump', proxyto: 'node', permissions: { user: 'all' },
    params: params({
      all: opt(bool()), bwlimit: opt(int({ minimum: 0 })), compress: opt(en(['0', '1', 'gzip', 'lzo', 'zstd'])), dumpdir: opt(str()), exclude: opt(str({ format: 'pve-vmid-list' })),
      'exclude-path': opt({ type: 'array' }), fleecing: opt(str({ format: 'backup-fleecing' })), ionice: opt(int({ minimum: 0, maximum: 8 })), 'job-id': opt(str({ pattern: '\\S+', maxLength: 50 })),
      lockwait: opt(int({ minimum: 0 })), mailnotification: opt(en(['always', 'failure'])), mailto: opt(str({ format: 'email-or-username-list' })), maxfiles: opt(int({ minimum: 1 })),
      mode: opt(en(['snapshot', 'suspend', 'stop'])), node: opt(node), 'notes-template': opt(str({ maxLength: 1024, requires: 'storage' })),
      'notification-mode': opt(en(['auto', 'legacy-sendmail', 'notification-system'])), 'pbs-change-detection-mode': opt(en(['legacy', 'data', 'metadata'])),
      performance: opt(str({ format: 'backup-performance' })), pigz: opt(int()), pool: opt(str()), protected: opt(bool({ requires: 'storage' })),
      'prune-backups': opt(str({ format: 'prune-backups' })), quiet: opt(bool()), remove: opt(bool()), script: opt(str()), stdexcludes: opt(bool()), stdout: opt(bool()),
      stop: opt(bool()), stopwait: opt(int({ minimum: 0 })), storage: opt(storageId), tmpdir: opt(str()), vmid: opt(str({ format: 'pve-vmid-list' })), zstd: opt(int()),
    }),
    handler: (req) => vzdump(req),
  })
}

function vzdump(req: ApiRequest) {
  const { sim, params: p } = req
  for (const k of ['vmid', 'exclude', 'pool'] as const) if (p.all && p[k] !== undefined && k !== 'exclude') throw paramError({ all: `option conflicts with option '${k}'` })
  if (!p.vmid && !p.all && !p.pool && !p.stop) throw paramError({ vmid: 'property is missing' })
  const storeid = p.storage ?? 'local'
  const storage = sim.state.storageOnNode(storeid, req.node)
  if (!storage.content.includes('backup')) throw new PveError(`storage '${storeid}' does not support backups`)
  sim.access.require(req.id, `/storage/${storeid}`, ['Datastore.AllocateSpace'])
  const excluded = new Set(splitList(p.exclude ?? '').map(Number))
  let ids: number[]
  if (p.all) ids = [...sim.state.vms.values()].filter((v) => v.node === req.node).map((v) => v.vmid)
  else if (p.pool) ids = [...(sim.state.pools.get(p.pool)?.members ?? [])].filter((m) => m.startsWith('qemu/')).map((m) => Number(m.slice(5)))
  else ids = splitList(p.vmid ?? '').map(Number)
  ids = ids.filter((id) => !excluded.has(id)).sort((a, b) => a - b)
  for (const id of ids) sim.access.require(req.id, `/vms/${id}`, ['VM.Backup'])
  const local = ids.filter((id) => sim.state.vms.get(id)?.node === req.node)
  if (!local.length && ids.length) return 'OK'
  const compress = p.compress === 'zstd' || p.compress === '1' ? 'zst' : p.compress === 'gzip' ? 'gz' : p.compress === 'lzo' ? 'lzo' : undefined
  const mode = p.mode ?? 'snapshot'
  return worker(req, 'vzdump', local.length === 1 ? local[0] : '', async (t) => {
    const release = await sim.locks.acquire(`vzdump@${req.node}`, 'exclusive', (p.lockwait ?? 180) * 60, 'can\'t acquire lock \'/var/run/vzdump.lock\' - got timeout')
    let failed = 0
    try {
      t.log(`INFO: starting new backup job: vzdump ${local.join(' ')} --storage ${storeid} --mode ${mode}${compress ? ` --compress ${p.compress}` : ''}`)
      t.failPoint()
      for (const id of local) {
        const vm = sim.state.vms.get(id)
        t.log(`INFO: Starting Backup of VM ${id} (qemu)`)
        try {
          if (!vm) throw new PveError(`unable to find VM ${id}`)
          if (vm.config.lock) throw new PveError(`VM is locked (${vm.config.lock})`)
          vm.config.lock = 'backup'
          try {
            const ts = new Date()
            const stampText = `${ts.getUTCFullYear()}_${String(ts.getUTCMonth() + 1).padStart(2, '0')}_${String(ts.getUTCDate()).padStart(2, '0')}-${String(ts.getUTCHours()).padStart(2, '0')}_${String(ts.getUTCMinutes()).padStart(2, '0')}_${String(ts.getUTCSeconds()).padStart(2, '0')}`
            const volid = `${storeid}:backup/vzdump-qemu-${id}-${stampText}.vma${compress ? `.${compress}` : ''}`
            t.log(`INFO: Backup started at ${ts.toISOString().replace('T', ' ').slice(0, 19)}`)
            t.log(`INFO: status = ${vm.status}`)
            t.log(`INFO: backup mode: ${mode}`)
            t.log(`INFO: creating vzdump archive '/var/lib/vz/dump/${volid.split('/')[1]}'`)
            let bytes = 0
            for (const [, d] of sim.state.drives(vm.config)) {
              if (isCdrom(d)) continue
              bytes += sim.state.findVolume(vm.node, d.volid)?.size ?? 0
            }
            await sim.copy(storage, req.node, bytes, t.signal)
            const size = Math.max(1024 ** 2, Math.floor(bytes * (compress ? 0.3 : 0.6)))
            sim.state.addVolume({ volid, storage: storeid, node: storage.shared ? undefined : req.node, vmid: id, size, format: `vma${compress ? `.${compress}` : ''}`, content: 'backup', ctime: now(), backupConfig: { ...vm.config, lock: '' }, protected: !!p.protected, notes: p['notes-template']?.replace(/\{\{vmid\}\}/g, String(id)).replace(/\{\{guestname\}\}/g, vm.config.name ?? '') })
            delete sim.state.findVolume(req.node, volid)!.backupConfig!.lock
            t.log(`INFO: archive file size: ${formatSize(size)}`)
            t.log(`INFO: Finished Backup of VM ${id} (00:00:0${Math.min(9, 1 + Math.round(bytes / GiB))})`)
          } finally {
            if (vm.config.lock === 'backup') delete vm.config.lock
          }
        } catch (e) {
          failed++
          t.log(`ERROR: Backup of VM ${id} failed - ${(e as Error).message}`)
        }
      }
      if (failed) throw new PveError('job errors')
      t.log('INFO: Backup job finished successfully')
    } finally {
      release()
    }
  })
}

export function register(r: Router) {
  r.add({
    method: 'GET', path: '/nodes', permissions: { user: 'all' }, params: params({}),
    handler: ({ sim, id }) => {
      const running = runningByNode(sim)
      return [...sim.state.nodes.values()].map((n) => ({ ...nodeItem(sim, n, sim.access.has(id, `/nodes/${n.name}`, ['Sys.Audit']), running), ssl_fingerprint: sim.fingerprints.get(n.name) }))
    },
  })
  r.add({
    method: 'GET', path: '/nodes/{node}/status', proxyto: 'node', permissions: { check: ['perm', '/nodes/{node}', ['Sys.Audit']] },
    params: params({ node }),
    handler: ({ sim, node: n }) => {
      const item = nodeItem(sim, sim.state.node(n), true)
      const nodeState = sim.state.node(n)
      return {
        uptime: item.uptime, cpu: item.cpu, loadavg: ['0.12', '0.10', '0.05'], wait: 0,
        memory: { total: nodeState.maxmem, used: item.mem, free: nodeState.maxmem - (item.mem as number) },
        swap: { total: 8 * GiB, used: 0, free: 8 * GiB }, rootfs: { total: nodeState.maxdisk, used: 8 * GiB, avail: nodeState.maxdisk - 8 * GiB, free: nodeState.maxdisk - 8 * GiB },
        cpuinfo: { cpus: nodeState.maxcpu, sockets: 1, cores: nodeState.maxcpu, model: 'Simulated CPU', mhz: '2400.000', hvm: '1', flags: 'sse4_2 avx2' },
        kversion: 'Linux 6.14.8-2-pve #1 SMP PREEMPT_DYNAMIC PMX 6.14.8-2 (2025-07-22T10:04Z) x86_64', pveversion: 'pve-manager/9.1.1/42c3d2b9d3a4e0f7',
        'current-kernel': { sysname: 'Linux', release: '6.14.8-2-pve', version: '#1 SMP PREEMPT_DYNAMIC', machine: 'x86_64' },
        'boot-info': { mode: 'efi', secureboot: 0 }, ksm: { shared: 0 },
      }
    },
  })
  r.add({
    method: 'GET', path: '/nodes/{node}/network', proxyto: 'node', permissions: { user: 'all' },
    params: params({ node, type: opt(en(['bridge', 'bond', 'eth', 'alias', 'vlan', 'fabric', 'OVSBridge', 'OVSBond', 'OVSPort', 'OVSIntPort', 'vnet', 'any_bridge', 'any_local_bridge', 'include_sdn'])) }),
    handler: ({ params: p }) => {
      const all = [
        { iface: 'eno1', type: 'eth', active: 1, autostart: 1, method: 'manual', families: ['inet'], priority: 3 },
        { iface: 'vmbr0', type: 'bridge', active: 1, autostart: 1, method: 'static', families: ['inet'], bridge_ports: 'eno1', bridge_stp: 'off', bridge_fd: '0', priority: 4, comments: 'simulated uplink bridge\n' },
      ]
      const bridgeLike = p.type === 'any_bridge' || p.type === 'any_local_bridge'
      return all.filter((i) => !p.type || p.type === 'include_sdn' || i.type === p.type || (bridgeLike && i.type === 'bridge'))
    },
  })
  registerTasks(r)
  registerStorage(r)
  registerVzdump(r)
}

