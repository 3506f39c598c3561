// Initial cluster contents: nodes, storages, templates and VMs. 'empty' has nodes and storages
// only; 'sandbox' is what `task sim:up` shows users; `generatedInventory` builds large clusters
// for benchmarks.
import type { SimContext } from './context.ts'
import { formatSize, GiB, normalizeTags, randomMac, type BackupJob, type Storage, type Vm } from './state.ts'

export interface VmSpec {
  vmid: number
  node?: string
  name: string
  template?: boolean
  running?: boolean
  tags?: string
  memory?: number
  cores?: number
  /** Disk sizes in GiB on `storage` (scsi0, scsi1...). */
  disks?: number[]
  storage?: string
  agent?: boolean
  cloudinit?: boolean
  ipconfig0?: string
  protection?: boolean
  pool?: string
  description?: string
}

export interface Inventory {
  /** Node count (named pve1..pveN) or explicit names. */
  nodes?: number | string[]
  storages?: Storage[]
  vms?: VmSpec[]
  pools?: string[]
  /** Files in `local` on every node: `iso/<name>` and `import/<name>` volumes with sizes in MiB. */
  files?: { volname: string; sizeMiB: number }[]
  backupJobs?: BackupJob[]
}

export function defaultStorages(): Storage[] {
  return [
    { id: 'local', type: 'dir', shared: false, content: ['iso', 'vztmpl', 'backup', 'snippets', 'import'], capacity: 100 * GiB, path: '/var/lib/vz', bandwidth: 0.5 * GiB },
    { id: 'local-lvm', type: 'lvmthin', shared: false, content: ['images', 'rootdir'], capacity: 800 * GiB, bandwidth: 1 * GiB },
    { id: 'ceph', type: 'rbd', shared: true, content: ['images', 'rootdir'], capacity: 4096 * GiB, bandwidth: 0.8 * GiB },
  ]
}

export function sandboxInventory(): Inventory {
  const managed = 'pm-managed'
  return {
    nodes: 3,
    pools: ['prod'],
    // The nightly job covers the prod pool only: dev-1 and legacy-app have no backup (health finds that).
    backupJobs: [{ id: 'backup-5e6f0c2a-7d41', schedule: '21:00', enabled: 1, pool: 'prod', storage: 'local', mode: 'snapshot', compress: 'zstd', comment: 'nightly prod' }],
    files: [
      { volname: 'iso/talos-nocloud-amd64-v1.11.5.iso', sizeMiB: 120 },
      { volname: 'iso/ubuntu-24.04.3-live-server-amd64.iso', sizeMiB: 3100 },
      { volname: 'import/noble-server-cloudimg-amd64.qcow2', sizeMiB: 590 },
    ],
    vms: [
      { vmid: 100, node: 'pve1', name: 'ubuntu-2404-cloudinit', template: true, tags: `template;${managed}`, memory: 2048, cores: 2, disks: [4], cloudinit: true, agent: true, description: 'Ubuntu 24.04 cloud-init template' },
      { vmid: 101, node: 'pve1', name: 'talos-v1.11.5', template: true, tags: `template;talos;${managed}`, memory: 4096, cores: 2, disks: [10], agent: true, description: 'Talos Linux v1.11.5 (nocloud)' },
      { vmid: 1000, node: 'pve1', name: 'web-1', running: true, tags: `web;prod;${managed}`, memory: 2048, cores: 2, disks: [16], agent: true, cloudinit: true, pool: 'prod' },
      { vmid: 1001, node: 'pve2', name: 'web-2', running: true, tags: `web;prod;${managed}`, memory: 2048, cores: 2, disks: [16], agent: true, cloudinit: true, pool: 'prod' },
      { vmid: 1002, node: 'pve3', name: 'db-1', running: true, tags: `db;prod;${managed}`, memory: 8192, cores: 4, disks: [32, 100], agent: true, cloudinit: true, protection: true, pool: 'prod' },
      { vmid: 1003, node: 'pve2', name: 'dev-1', tags: `dev;${managed}`, memory: 1024, cores: 1, disks: [8], cloudinit: true },
      { vmid: 1010, node: 'pve3', name: 'legacy-app', running: true, tags: 'legacy', memory: 4096, cores: 2, disks: [40], storage: 'ceph' },
    ],
  }
}

/** A big cluster for benchmarks: `nodes` nodes, `vms` VMs spread round-robin, every 10th running. */
export function generatedInventory(nodes: number, vms: number): Inventory {
  const specs: VmSpec[] = []
  for (let i = 0; i < vms; i++) {
    specs.push({ vmid: 1000 + i, node: `pve${(i % nodes) + 1}`, name: `vm-${1000 + i}`, running: i % 10 === 0, tags: i % 3 === 0 ? 'pm-managed;bench' : 'bench', memory: 2048, cores: 2, disks: [16] })
  }
  return { nodes, vms: specs }
}

/** Fills the context's state from an inventory. `ipFor(i)` gives node i's loopback address. */
export function loadInventory(sim: SimContext, inv: Inventory, ipFor: (i: number) => string) {
  const names = typeof inv.nodes === 'number' || inv.nodes === undefined ? Array.from({ length: (inv.nodes as number | undefined) ?? 3 }, (_, i) => `pve${i + 1}`) : inv.nodes
  names.forEach((name, i) => sim.state.nodes.set(name, { name, nodeid: i + 1, ip: ipFor(i), online: true, maxcpu: 16, maxmem: 128 * GiB, maxdisk: 100 * GiB, bootedAt: Date.now() - 86400_000 * sim.clock.timeFactor }))
  for (const s of inv.storages ?? defaultStorages()) sim.state.storages.set(s.id, { ...s })
  for (const p of inv.pools ?? []) sim.state.pools.set(p, { poolid: p, members: new Set() })
  for (const j of inv.backupJobs ?? []) sim.state.backupJobs.set(j.id, { ...j })
  const local = sim.state.storages.get('local')
  if (local) {
    for (const node of names) {
      for (const f of inv.files ?? []) {
        const content = f.volname.startsWith('iso/') ? 'iso' : 'import'
        sim.state.addVolume({ volid: `local:${f.volname}`, storage: 'local', node, size: f.sizeMiB * 1024 ** 2, format: content === 'iso' ? 'iso' : f.volname.split('.').pop()!, content, ctime: Math.floor(Date.now() / 1000) - 86400 })
      }
    }
  }
  for (const spec of inv.vms ?? []) addVm(sim, spec, names[0])
}

export function addVm(sim: SimContext, spec: VmSpec, defaultNode: string): Vm {
  const node = spec.node ?? defaultNode
  const storeid = spec.storage ?? 'local-lvm'
  const storage = sim.state.storage(storeid)
  const config: Record<string, string> = {
    name: spec.name, memory: String(spec.memory ?? 2048), cores: String(spec.cores ?? 2), sockets: '1', cpu: 'x86-64-v2-AES',
    ostype: 'l26', scsihw: 'virtio-scsi-single', bios: 'ovmf', machine: 'q35',
    net0: `virtio=${randomMac(sim.rand)},bridge=vmbr0,firewall=1`,
    smbios1: `uuid=${crypto.randomUUID()}`, vmgenid: crypto.randomUUID(),
    meta: `creation-qemu=9.2.0,ctime=${Math.floor(Date.now() / 1000) - 86400}`,
  }
  const prefix = spec.template ? 'base' : 'vm'
  ;(spec.disks ?? [16]).forEach((gib, i) => {
    const format = sim.state.defaultFormat(storage)
    const volid = sim.state.diskVolid(storage, spec.vmid, `${prefix}-${spec.vmid}-disk-${i + 1}`, format)
    sim.state.addVolume({ volid, storage: storeid, node: storage.shared ? undefined : node, vmid: spec.vmid, size: gib * GiB, format, content: 'images', ctime: Math.floor(Date.now() / 1000) - 86400 })
    config[`scsi${i}`] = `${volid},discard=on,iothread=1,size=${formatSize(gib * GiB)}`
  })
  const efi = sim.state.diskVolid(storage, spec.vmid, `${prefix}-${spec.vmid}-disk-0`, sim.state.defaultFormat(storage))
  sim.state.addVolume({ volid: efi, storage: storeid, node: storage.shared ? undefined : node, vmid: spec.vmid, size: 4 * 1024 ** 2, format: sim.state.defaultFormat(storage), content: 'images', ctime: Math.floor(Date.now() / 1000) - 86400 })
  config.efidisk0 = `${efi},efitype=4m,pre-enrolled-keys=1,size=4M`
  config.boot = 'order=scsi0;net0'
  if (spec.cloudinit) {
    const ci = sim.state.diskVolid(storage, spec.vmid, `vm-${spec.vmid}-cloudinit`, sim.state.defaultFormat(storage))
    sim.state.addVolume({ volid: ci, storage: storeid, node: storage.shared ? undefined : node, vmid: spec.vmid, size: 4 * 1024 ** 2, format: sim.state.defaultFormat(storage), content: 'images', ctime: Math.floor(Date.now() / 1000) - 86400 })
    config.ide2 = `${ci},media=cdrom`
    config.ciuser = 'ops'
    config.ipconfig0 = spec.ipconfig0 ?? 'ip=dhcp'
  }
  if (spec.agent) config.agent = 'enabled=1'
  if (spec.tags) config.tags = normalizeTags(spec.tags)
  if (spec.template) config.template = '1'
  if (spec.protection) config.protection = '1'
  if (spec.description) config.description = spec.description
  const running = !!spec.running && !spec.template
  const vm: Vm = {
    vmid: spec.vmid, node, config, pending: {}, pendingDelete: new Map(), snapshots: new Map(),
    status: running ? 'running' : 'stopped', qmpstatus: 'running', startedAt: running ? Date.now() - 3600_000 * sim.clock.timeFactor : 0,
    pid: running ? sim.state.nextPid() : 0, shutdownSeconds: 4,
  }
  sim.state.vms.set(vm.vmid, vm)
  if (spec.pool) sim.state.pools.get(spec.pool)?.members.add(`qemu/${vm.vmid}`)
  return vm
}
