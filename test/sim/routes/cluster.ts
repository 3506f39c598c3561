// Cluster-wide endpoints: version, resources, nextid, status, tasks, HA, pools, storage config.
import { PveError, paramError } from '../clock.ts'
import type { Router } from '../router.ts'
import type { BackupJob } from '../state.ts'
import { bool, en, int, opt, params, poolid, str, storageId, vmid } from '../validate/schema.ts'
import { splitList } from '../validate/formats.ts'
import { nodeItem, resourceItem, runningByNode, storageEnabledOn, storageItem } from '../views.ts'
import { taskListItem } from './nodes.ts'

const haSid = str({ format: 'pve-ha-resource-or-vm-id' })
const haState = opt(en(['started', 'stopped', 'enabled', 'disabled', 'ignored']))

export function register(r: Router) {
  r.add({
    method: 'GET', path: '/version', permissions: { user: 'all' }, params: params({}),
    handler: () => ({ version: '9.1.1', release: '9.1', repoid: '42c3d2b9d3a4e0f7', console: 'html5' }),
  })

  r.add({
    method: 'GET', path: '/cluster/resources', permissions: { user: 'all' },
    params: params({ type: opt(en(['vm', 'storage', 'node', 'sdn'])) }),
    handler: ({ sim, id, params: p }) => {
      const out: Record<string, unknown>[] = []
      const all = !p.type
      if (all) for (const pool of sim.state.pools.values()) if (sim.access.has(id, `/pool/${pool.poolid}`, ['Pool.Audit'])) out.push({ id: `/pool/${pool.poolid}`, type: 'pool', pool: pool.poolid })
      if (all || p.type === 'vm') {
        const vmids = [...sim.state.vms.keys()].map(String).sort()
        for (const v of vmids) {
          const vm = sim.state.vms.get(Number(v))!
          if (sim.access.has(id, `/vms/${v}`, ['VM.Audit'])) out.push(resourceItem(sim, vm))
        }
      }
      if (all || p.type === 'node') {
        const running = runningByNode(sim)
        for (const n of sim.state.nodes.values()) out.push(nodeItem(sim, n, sim.access.has(id, `/nodes/${n.name}`, ['Sys.Audit']), running))
      }
      if (all || p.type === 'storage') {
        const used = sim.state.usedBytesByScope()
        for (const n of sim.state.nodes.values()) {
          for (const s of sim.state.storages.values()) {
            if (!storageEnabledOn(s, n.name) || !sim.access.has(id, `/storage/${s.id}`, ['Datastore.Audit', 'Datastore.AllocateSpace'], true)) continue
            out.push(storageItem(sim, s, n.name, used.get(sim.state.scope(s, n.name)) ?? 0))
          }
        }
      }
      if (all || p.type === 'sdn') for (const n of sim.state.nodes.values()) out.push({ id: `sdn/${n.name}/localnetwork`, type: 'sdn', sdn: 'localnetwork', node: n.name, status: 'ok' })
      return out
    },
  })

  r.add({
    method: 'GET', path: '/cluster/nextid', permissions: { user: 'all' },
    params: params({ vmid: opt(vmid) }),
    handler: ({ sim, params: p, raw }) => {
      if (p.vmid !== undefined) {
        if (sim.state.vms.has(p.vmid)) throw paramError({ vmid: `VM ${p.vmid} already exists` })
        return String(raw.vmid)
      }
      const { lower, upper } = sim.state.nextidRange
      for (let i = lower; i < upper; i++) {
        if (sim.state.vms.has(i)) continue
        if (sim.faults.take(['nextid-race'], { method: 'GET', path: '/cluster/nextid' })) raceCreate(sim, i)
        return String(i)
      }
      throw new PveError(`unable to get any free VMID in range [${lower}, ${upper}]`)
    },
  })

  r.add({
    method: 'GET', path: '/cluster/status', permissions: { check: ['perm', '/', ['Sys.Audit']] }, params: params({}),
    handler: ({ sim, node }) => {
      const nodes = [...sim.state.nodes.values()]
      return [
        { type: 'cluster', id: 'cluster', name: sim.state.clusterName, nodes: nodes.length, version: nodes.length + 2, quorate: nodes.filter((n) => n.online).length * 2 > nodes.length ? 1 : 0 },
        ...nodes.map((n) => ({ type: 'node', id: `node/${n.name}`, name: n.name, nodeid: n.nodeid, local: n.name === node ? 1 : 0, online: n.online ? 1 : 0, ip: n.ip, level: '' })),
      ]
    },
  })

  r.add({
    method: 'GET', path: '/cluster/tasks', permissions: { user: 'all' }, params: params({}),
    handler: ({ sim, id }) => {
      const audit = sim.access.has(id, '/', ['Sys.Audit'])
      return [...sim.tasks.tasks.values()]
        .filter((t) => audit || t.user === id.authid || (!id.tokenid && t.user.startsWith(`${id.userid}!`)))
        .sort((a, b) => b.starttime - a.starttime || b.pstart - a.pstart)
        .slice(0, 1000)
        .map((t) => taskListItem(t, true))
    },
  })

  // Scheduled backup jobs: read and delete. Creating one needs the full vzdump option set, which
  // the tool never sends; tests and the sandbox add jobs through the inventory or control API.
  const jobId = str({ maxLength: 50, pattern: '\\S+' })
  r.add({
    method: 'GET', path: '/cluster/backup', permissions: { check: ['perm', '/', ['Sys.Audit']] }, params: params({}),
    handler: ({ sim }) => [...sim.state.backupJobs.values()].sort((a, b) => a.id.localeCompare(b.id)).map((j) => backupJobItem(j)),
  })
  r.add({
    method: 'GET', path: '/cluster/backup/{id}', permissions: { check: ['perm', '/', ['Sys.Audit']] }, params: params({ id: jobId }),
    handler: ({ sim, params: p }) => {
      const job = sim.state.backupJobs.get(p.id)
      if (!job) throw paramError({ id: `No such job '${p.id}'` })
      return backupJobItem(job)
    },
  })
  r.add({
    method: 'DELETE', path: '/cluster/backup/{id}', permissions: { check: ['perm', '/', ['Sys.Modify']] }, params: params({ id: jobId }),
    handler: ({ sim, params: p }) => {
      if (!sim.state.backupJobs.delete(p.id)) throw paramError({ id: `No such job '${p.id}'` })
      return null
    },
  })

  r.add({
    method: 'GET', path: '/cluster/ha/resources', permissions: { check: ['perm', '/', ['Sys.Audit']] },
    params: params({ type: opt(en(['ct', 'vm'])) }),
    handler: ({ sim }) => [...sim.state.ha.values()].map(haItem),
  })
  r.add({
    method: 'GET', path: '/cluster/ha/resources/{sid}', permissions: { check: ['perm', '/', ['Sys.Audit']] },
    params: params({ sid: haSid }),
    handler: ({ sim, params: p }) => {
      const ha = sim.state.ha.get(normalizeSid(p.sid))
      if (!ha) throw new PveError(`no such resource '${normalizeSid(p.sid)}'`)
      return haItem(ha)
    },
  })
  r.add({
    method: 'POST', path: '/cluster/ha/resources', permissions: { check: ['perm', '/', ['Sys.Console']] },
    params: params({ sid: haSid, comment: opt(str({ maxLength: 4096 })), failback: opt(bool()), group: opt(str({ format: 'pve-configid' })), max_relocate: opt(int({ minimum: 0 })), max_restart: opt(int({ minimum: 0 })), state: haState, type: opt(en(['ct', 'vm'])) }),
    handler: ({ sim, params: p }) => {
      const sid = normalizeSid(p.sid)
      const vmidNum = Number(sid.split(':')[1])
      if (sim.state.ha.has(sid)) throw new PveError(`resource ID '${sid}' already defined`)
      if (!sim.state.vms.has(vmidNum)) throw new PveError(`unable to find VM ${vmidNum}`)
      sim.state.ha.set(sid, { sid, type: 'vm', vmid: vmidNum, state: p.state ?? 'started', group: p.group, comment: p.comment, max_restart: p.max_restart ?? 1, max_relocate: p.max_relocate ?? 1, failback: p.failback !== 0 })
      const vm = sim.state.vms.get(vmidNum)!
      if ((p.state ?? 'started') === 'started' && vm.status !== 'running' && !vm.config.lock && vm.config.template !== '1') {
        vm.status = 'running'
        vm.startedAt = Date.now()
        vm.pid = sim.state.nextPid()
      }
      return null
    },
  })
  r.add({
    method: 'PUT', path: '/cluster/ha/resources/{sid}', permissions: { check: ['perm', '/', ['Sys.Console']] },
    params: params({ sid: haSid, comment: opt(str({ maxLength: 4096 })), delete: opt(str({ format: 'pve-configid-list', maxLength: 4096 })), digest: opt(str({ maxLength: 64 })), failback: opt(bool()), group: opt(str({ format: 'pve-configid' })), max_relocate: opt(int({ minimum: 0 })), max_restart: opt(int({ minimum: 0 })), state: haState }),
    handler: ({ sim, params: p }) => {
      const ha = sim.state.ha.get(normalizeSid(p.sid))
      if (!ha) throw new PveError(`no such resource '${normalizeSid(p.sid)}'`)
      if (p.state) ha.state = p.state
      if (p.comment !== undefined) ha.comment = p.comment
      if (p.group !== undefined) ha.group = p.group
      if (p.max_restart !== undefined) ha.max_restart = p.max_restart
      if (p.max_relocate !== undefined) ha.max_relocate = p.max_relocate
      for (const k of splitList(p.delete ?? '')) delete (ha as unknown as Record<string, unknown>)[k]
      return null
    },
  })
  r.add({
    method: 'DELETE', path: '/cluster/ha/resources/{sid}', permissions: { check: ['perm', '/', ['Sys.Console']] },
    params: params({ sid: haSid, purge: opt(bool()) }),
    handler: ({ sim, params: p }) => {
      const sid = normalizeSid(p.sid)
      if (!sim.state.ha.delete(sid)) throw new PveError(`cannot delete service '${sid}', not HA managed!`)
      return null
    },
  })
  r.add({
    method: 'GET', path: '/cluster/ha/status/current', permissions: { check: ['perm', '/', ['Sys.Audit']] }, params: params({}),
    handler: ({ sim }) => {
      const nodes = [...sim.state.nodes.values()]
      const master = nodes.find((n) => n.online)?.name ?? nodes[0]?.name
      return [
        { id: 'quorum', type: 'quorum', node: master, status: 'OK', quorate: 1 },
        { id: 'master', type: 'master', node: master, status: `${master} (active, ${new Date().toUTCString()})` },
        ...nodes.map((n) => ({ id: `lrm:${n.name}`, type: 'lrm', node: n.name, status: `${n.name} (${sim.state.maintenance.has(n.name) ? 'maintenance mode' : n.online ? 'active' : 'old timestamp - dead?'}, ${new Date().toUTCString()})`, ...(sim.state.maintenance.has(n.name) ? { 'lrm-mode': 'maintenance' } : {}) })),
        ...[...sim.state.ha.values()].map((h) => {
          const vm = sim.state.vms.get(h.vmid)
          return { id: `service:${h.sid}`, type: 'service', sid: h.sid, node: vm?.node, state: h.state, crm_state: h.state, request_state: h.state, status: `${h.sid} (${vm?.node}, ${h.state})`, max_restart: h.max_restart, max_relocate: h.max_relocate, failback: h.failback ? 1 : 0 }
        }),
      ]
    },
  })

  registerPools(r)

  r.add({
    method: 'GET', path: '/storage', permissions: { user: 'all' },
    params: params({ type: opt(en(['btrfs', 'cephfs', 'cifs', 'dir', 'esxi', 'iscsi', 'iscsidirect', 'lvm', 'lvmthin', 'nfs', 'pbs', 'rbd', 'zfs', 'zfspool'])) }),
    handler: ({ sim, id, params: p }) =>
      [...sim.state.storages.values()]
        .filter((s) => (!p.type || s.type === p.type) && sim.access.has(id, `/storage/${s.id}`, ['Datastore.Audit', 'Datastore.AllocateSpace'], true))
        .map((s) => ({ storage: s.id, type: s.type, content: s.content.join(','), shared: s.shared ? 1 : 0, digest: 'd'.repeat(40), ...(s.nodes ? { nodes: s.nodes.join(',') } : {}), ...(s.path ? { path: s.path } : {}), ...(s.type === 'lvmthin' ? { thinpool: 'data', vgname: 'pve' } : {}), ...(s.type === 'rbd' ? { pool: s.id, krbd: 0 } : {}), ...(s.disabled ? { disable: 1 } : {}) })),
  })
  r.add({
    method: 'GET', path: '/storage/{storage}', permissions: { check: ['perm', '/storage/{storage}', ['Datastore.Allocate']] },
    params: params({ storage: storageId }),
    handler: ({ sim, params: p }) => {
      const s = sim.state.storage(p.storage)
      return { storage: s.id, type: s.type, content: s.content.join(','), shared: s.shared ? 1 : 0, digest: 'd'.repeat(40), ...(s.nodes ? { nodes: s.nodes.join(',') } : {}), ...(s.path ? { path: s.path } : {}) }
    },
  })
}

function registerPools(r: Router) {
  const poolView = (sim: import('../context.ts').SimContext, poolidStr: string) => {
    const pool = sim.state.pools.get(poolidStr)
    if (!pool) throw new PveError(`pool '${poolidStr}' does not exist`)
    const members = [...pool.members].map((m) => {
      const [kind, key] = m.split('/')
      if (kind === 'qemu') {
        const vm = sim.state.vms.get(Number(key))
        return vm ? resourceItem(sim, vm) : undefined
      }
      const s = sim.state.storages.get(key)
      return s ? storageItem(sim, s, [...sim.state.nodes.keys()][0]) : undefined
    }).filter(Boolean)
    return { poolid: pool.poolid, ...(pool.comment ? { comment: pool.comment } : {}), members }
  }
  r.add({
    method: 'GET', path: '/pools', permissions: { user: 'all' },
    params: params({ poolid: opt(poolid), type: opt(en(['qemu', 'lxc', 'storage'], { requires: 'poolid' })) }),
    handler: ({ sim, id, params: p }) =>
      [...sim.state.pools.values()]
        .filter((pool) => (!p.poolid || pool.poolid === p.poolid) && sim.access.has(id, `/pool/${pool.poolid}`, ['Pool.Audit']))
        .map((pool) => (p.poolid ? poolView(sim, pool.poolid) : { poolid: pool.poolid, ...(pool.comment ? { comment: pool.comment } : {}) })),
  })
  r.add({
    method: 'GET', path: '/pools/{poolid}', permissions: { check: ['perm', '/pool/{poolid}', ['Pool.Audit']] },
    params: params({ poolid, type: opt(en(['qemu', 'lxc', 'storage'])) }),
    handler: ({ sim, params: p }) => poolView(sim, p.poolid),
  })
  r.add({
    method: 'POST', path: '/pools', permissions: { check: ['perm', '/pool/{poolid}', ['Pool.Allocate']] },
    params: params({ poolid, comment: opt(str()) }),
    handler: ({ sim, params: p }) => {
      if (sim.state.pools.has(p.poolid)) throw new PveError(`create pool failed: pool '${p.poolid}' already exists`)
      sim.state.pools.set(p.poolid, { poolid: p.poolid, comment: p.comment, members: new Set() })
      return null
    },
  })
  r.add({
    method: 'PUT', path: '/pools', permissions: { check: ['perm', '/pool/{poolid}', ['Pool.Allocate']] },
    params: params({ poolid, 'allow-move': opt(bool()), comment: opt(str()), delete: opt(bool()), storage: opt(str({ format: 'pve-storage-id-list' })), vms: opt(str({ format: 'pve-vmid-list' })) }),
    handler: ({ sim, params: p }) => {
      const pool = sim.state.pools.get(p.poolid)
      if (!pool) throw new PveError(`pool '${p.poolid}' does not exist`)
      if (p.comment !== undefined) pool.comment = p.comment
      for (const v of splitList(p.vms ?? '')) {
        const key = `qemu/${v}`
        if (p.delete) { pool.members.delete(key); continue }
        if (!sim.state.vms.has(Number(v))) throw new PveError(`no such VMID '${v}'`)
        const other = [...sim.state.pools.values()].find((o) => o !== pool && o.members.has(key))
        if (other && !p['allow-move']) throw new PveError(`VM ${v} is already a pool member`)
        other?.members.delete(key)
        pool.members.add(key)
      }
      for (const s of splitList(p.storage ?? '')) {
        if (p.delete) pool.members.delete(`storage/${s}`)
        else pool.members.add(`storage/${s}`)
      }
      return null
    },
  })
  r.add({
    method: 'DELETE', path: '/pools', permissions: { check: ['perm', '/pool/{poolid}', ['Pool.Allocate']] },
    params: params({ poolid }),
    handler: ({ sim, params: p }) => {
      const pool = sim.state.pools.get(p.poolid)
      if (!pool) throw new PveError(`delete pool failed: pool '${p.poolid}' does not exist`)
      if (pool.members.size) throw new PveError(`delete pool failed: pool '${p.poolid}' is not empty`)
      sim.state.pools.delete(p.poolid)
      return null
    },
  })
}

/** A job as PVE lists it: type vzdump, enabled by default, and the next run of a daily HH:MM schedule. */
function backupJobItem(job: BackupJob): Record<string, unknown> {
  const item: Record<string, unknown> = { type: 'vzdump', enabled: 1, ...job }
  const daily = /^(\d{1,2}):(\d{2})$/.exec(job.schedule)
  if (daily && item.enabled) {
    const next = new Date()
    next.setHours(Number(daily[1]), Number(daily[2]), 0, 0)
    if (next.getTime() <= Date.now()) next.setDate(next.getDate() + 1)
    item['next-run'] = Math.floor(next.getTime() / 1000)
  }
  return item
}

function normalizeSid(sid: string) {
  return sid.includes(':') ? sid : `vm:${sid}`
}

function haItem(h: { sid: string; state: string; group?: string; comment?: string; max_restart: number; max_relocate: number; failback: boolean }) {
  return { sid: h.sid, type: 'vm', state: h.state, max_restart: h.max_restart, max_relocate: h.max_relocate, failback: h.failback ? 1 : 0, digest: 'a'.repeat(40), ...(h.group ? { group: h.group } : {}), ...(h.comment ? { comment: h.comment } : {}) }
}

/** "Someone else" creates a VM at the id just handed out (nextid reserves nothing). */
function raceCreate(sim: import('../context.ts').SimContext, id: number) {
  setTimeout(() => {
    if (sim.state.vms.has(id)) return
    const node = [...sim.state.nodes.keys()][0]
    sim.state.vms.set(id, { vmid: id, node, config: { name: `other-tool-${id}`, memory: '512', tags: 'foreign' }, pending: {}, pendingDelete: new Map(), snapshots: new Map(), status: 'stopped', qmpstatus: 'running', startedAt: 0, pid: 0, shutdownSeconds: 4 })
  }, 0)
}
