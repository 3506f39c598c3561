// What the API shows of the model: VM status objects, /cluster/resources items, node and storage
// summaries, config values typed like PVE's JSON (booleans/integers as numbers, rest as strings).
import type { SimContext } from './context.ts'
import { GiB, type SimNode, type Storage, type Vm } from './state.ts'
import { qemuConfigProperties } from './validate/qemu-formats.ts'

/** Deterministic pseudo-usage from an id, so numbers look alive but tests stay stable. */
const wobble = (id: number, scale: number) => ((Math.sin(id * 12.9898) + 1) / 2) * scale

export function uptime(sim: SimContext, since: number): number {
  return Math.floor((Date.now() - since) / 1000 / sim.clock.timeFactor)
}

export function configValueType(key: string): string | undefined {
  const m = /^([a-z]+?)(\d+)$/.exec(key)
  return (qemuConfigProperties[key] ?? (m ? qemuConfigProperties[`${m[1]}[n]`] : undefined))?.type
}

/** Config as GET …/config returns it: typed values, `cipassword` masked. */
export function configOut(config: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(config)) {
    const t = configValueType(k)
    out[k] = k === 'cipassword' ? '**********' : t === 'boolean' || t === 'integer' ? Number(v) : v
  }
  return out
}

export function vmStatus(sim: SimContext, vm: Vm, withHa: boolean): Record<string, unknown> {
  const c = vm.config
  const running = vm.status === 'running'
  const maxmem = sim.state.memoryMiB(c) * 1024 * 1024
  const s: Record<string, unknown> = {
    vmid: vm.vmid,
    name: c.name ?? `VM ${vm.vmid}`,
    status: vm.status,
    qmpstatus: running ? vm.qmpstatus : 'stopped',
    cpus: sim.state.cpus(c),
    maxmem,
    maxdisk: sim.state.bootDiskSize(c),
    mem: running ? Math.floor(maxmem * (0.2 + wobble(vm.vmid, 0.5))) : 0,
    memhost: running ? Math.floor(maxmem * (0.25 + wobble(vm.vmid, 0.5))) : 0,
    disk: 0,
    uptime: running ? uptime(sim, vm.startedAt) : 0,
    cpu: running ? Math.round(wobble(vm.vmid + 1, 0.2) * 1000) / 1000 : 0,
    netin: running ? Math.floor(wobble(vm.vmid + 2, 1e7)) : 0,
    netout: running ? Math.floor(wobble(vm.vmid + 3, 1e7)) : 0,
    diskread: running ? Math.floor(wobble(vm.vmid + 4, 1e8)) : 0,
    diskwrite: running ? Math.floor(wobble(vm.vmid + 5, 1e8)) : 0,
  }
  if (running) s.pid = vm.pid
  if (c.template === '1') s.template = 1
  if (c.lock) s.lock = c.lock
  if (c.tags) s.tags = c.tags
  if (/^(enabled=)?1/.test(c.agent ?? '')) s.agent = 1
  if (withHa) {
    const ha = sim.state.ha.get(`vm:${vm.vmid}`)
    s.ha = ha ? { managed: 1, state: ha.state, ...(ha.group ? { group: ha.group } : {}) } : { managed: 0 }
  }
  return s
}

export function resourceItem(sim: SimContext, vm: Vm): Record<string, unknown> {
  const st = vmStatus(sim, vm, false)
  const node = sim.state.nodes.get(vm.node)
  const item: Record<string, unknown> = {
    id: `qemu/${vm.vmid}`, type: 'qemu', vmid: vm.vmid, node: vm.node,
    status: node?.online ? vm.status : 'unknown',
    name: st.name, template: vm.config.template === '1' ? 1 : 0,
    maxcpu: st.cpus, cpu: st.cpu, maxmem: st.maxmem, mem: st.mem, memhost: st.memhost, maxdisk: st.maxdisk, disk: 0,
    uptime: st.uptime, netin: st.netin, netout: st.netout, diskread: st.diskread, diskwrite: st.diskwrite,
  }
  if (vm.config.lock) item.lock = vm.config.lock
  if (vm.config.tags) item.tags = vm.config.tags
  const pool = sim.access.vmPool(vm.vmid)
  if (pool) item.pool = pool
  const ha = sim.state.ha.get(`vm:${vm.vmid}`)
  if (ha) item.hastate = ha.state
  return item
}

/** Running VMs and their memory per node, in one pass: node listings of large clusters. */
export function runningByNode(sim: SimContext): Map<string, { count: number; memBytes: number }> {
  const out = new Map<string, { count: number; memBytes: number }>()
  for (const v of sim.state.vms.values()) {
    if (v.status !== 'running') continue
    const n = out.get(v.node) ?? { count: 0, memBytes: 0 }
    n.count++
    n.memBytes += sim.state.memoryMiB(v.config) * 1024 * 1024
    out.set(v.node, n)
  }
  return out
}

export function nodeItem(sim: SimContext, n: SimNode, withStats: boolean, running = runningByNode(sim)): Record<string, unknown> {
  const item: Record<string, unknown> = { id: `node/${n.name}`, type: 'node', node: n.name, status: n.online ? 'online' : 'offline', level: '' }
  if (withStats && n.online) {
    const { count, memBytes: used } = running.get(n.name) ?? { count: 0, memBytes: 0 }
    Object.assign(item, {
      cpu: Math.min(1, 0.02 + count * 0.01), maxcpu: n.maxcpu, mem: Math.min(n.maxmem, 2 * GiB + used), maxmem: n.maxmem,
      disk: 8 * GiB, maxdisk: n.maxdisk, uptime: uptime(sim, n.bootedAt), 'cgroup-mode': 2, 'host-arch': 'x86_64',
    })
  }
  return item
}

export function storageItem(sim: SimContext, s: Storage, node: string, used = sim.state.usedBytes(s, node)): Record<string, unknown> {
  return {
    id: `storage/${node}/${s.id}`, type: 'storage', storage: s.id, node, plugintype: s.type,
    status: sim.state.nodes.get(node)?.online ? 'available' : 'unknown', shared: s.shared ? 1 : 0,
    content: s.content.join(','), disk: used, maxdisk: s.capacity,
  }
}

export function storageEnabledOn(s: Storage, node: string): boolean {
  return !s.disabled && (!s.nodes || s.nodes.includes(node))
}
