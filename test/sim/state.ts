// The cluster model shared by every simulated node: nodes, storages and their volumes, VMs
// (config with [PENDING] and snapshot sections, runtime state), pools, HA resources.
import { createHash } from 'node:crypto'
import { parsePropertyString } from './validate/engine.ts'
import { DRIVE_KEY_RE, keyFormat } from './validate/qemu-formats.ts'
import { PveError } from './clock.ts'

export const GiB = 1024 ** 3

export interface SimNode {
  name: string
  nodeid: number
  /** The address the node's API listens on (also its cluster IP in /cluster/status). */
  ip: string
  online: boolean
  maxcpu: number
  maxmem: number
  maxdisk: number
  bootedAt: number
}

export type StorageType = 'dir' | 'lvmthin' | 'rbd' | 'lvm' | 'nfs'
export interface Storage {
  id: string
  type: StorageType
  shared: boolean
  content: string[]
  /** Nodes the storage is enabled on; undefined = all. */
  nodes?: string[]
  /** Capacity in bytes (per node for local storages). */
  capacity: number
  path?: string
  /** Simulated copy bandwidth in bytes per simulated second, shared by concurrent copies. */
  bandwidth: number
  disabled?: boolean
}

export interface Volume {
  volid: string
  storage: string
  /** Node holding a local volume; undefined for shared storages. */
  node?: string
  vmid?: number
  size: number
  format: string
  content: 'images' | 'iso' | 'backup' | 'import' | 'snippets' | 'vztmpl' | 'rootdir'
  ctime: number
  /** For linked clones: the base volume they depend on. */
  base?: string
  notes?: string
  protected?: boolean
  /** For backups: the config of the guest at backup time. */
  backupConfig?: Record<string, string>
}

export interface Snapshot {
  name: string
  snaptime: number
  description: string
  vmstate: boolean
  parent?: string
  snapstate?: string
  config: Record<string, string>
  running?: boolean
}

export interface Vm {
  vmid: number
  node: string
  config: Record<string, string>
  pending: Record<string, string>
  /** Pending deletions: key → force flag. */
  pendingDelete: Map<string, boolean>
  snapshots: Map<string, Snapshot>
  status: 'running' | 'stopped'
  /** qmpstatus for running VMs: running | paused | prelaunch. */
  qmpstatus: 'running' | 'paused' | 'prelaunch'
  startedAt: number
  pid: number
  /** Simulated seconds the guest takes to power off after an ACPI shutdown; Infinity = ignores it. */
  shutdownSeconds: number
  /** Guest agent answers (the VM's agent is enabled and the guest has booted). */
  agentInterfaces?: AgentInterface[]
}

export interface AgentInterface {
  name: string
  'hardware-address': string
  'ip-addresses': { 'ip-address': string; 'ip-address-type': 'ipv4' | 'ipv6'; prefix: number }[]
}

export interface HaResource { sid: string; type: 'vm'; vmid: number; state: string; group?: string; comment?: string; max_restart: number; max_relocate: number; failback: boolean }
export interface Pool { poolid: string; comment?: string; members: Set<string> }

const ORDER_SIZE_UNITS: [string, number][] = [['T', 1024 ** 4], ['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]]

/** PVE's format_size: the largest unit that divides the size exactly. */
export function formatSize(bytes: number): string {
  for (const [unit, f] of ORDER_SIZE_UNITS) if (bytes % f === 0 && bytes >= f) return `${bytes / f}${unit}`
  return String(bytes)
}

/** `32G`, `512M`, `+2G` (relative growth is handled by the caller), plain bytes. */
export function parseSize(text: string): number {
  const m = /^\+?(\d+(?:\.\d+)?)([KMGT])?$/.exec(text)
  if (!m) throw new PveError(`unable to parse size '${text}'`)
  const f = m[2] ? ORDER_SIZE_UNITS.find(([u]) => u === m[2])![1] : 1
  return Math.round(Number(m[1]) * f)
}

export interface Drive { volid: string; opts: Record<string, string> }

export function parseDrive(key: string, value: string): Drive {
  const format = keyFormat(key)
  const parsed = format ? parsePropertyString(format, value) : { file: value }
  const { file, ...opts } = parsed
  return { volid: file, opts }
}

export function printDrive(d: Drive): string {
  const keys = Object.keys(d.opts).sort()
  return [d.volid, ...keys.map((k) => `${k}=${d.opts[k]}`)].join(',')
}

export const isCdrom = (d: Drive) => d.opts.media === 'cdrom' || d.volid === 'none' || d.volid === 'cdrom'

/** A scheduled backup job as GET /cluster/backup lists it (property strings kept as strings). */
export interface BackupJob { id: string; schedule: string; enabled?: 0 | 1; storage?: string; vmid?: string; all?: 0 | 1; pool?: string; exclude?: string; node?: string; mode?: 'snapshot' | 'suspend' | 'stop'; compress?: string; comment?: string }

export class ClusterState {
  clusterName = 'sim'
  nodes = new Map<string, SimNode>()
  storages = new Map<string, Storage>()
  /** Keyed by `<scope>|<volid>`, scope = storage id for shared storages, `<node>/<storage>` else. */
  volumes = new Map<string, Volume>()
  vms = new Map<number, Vm>()
  pools = new Map<string, Pool>()
  ha = new Map<string, HaResource>()
  /** Scheduled backup jobs (jobs.cfg `vzdump:` sections), by id. */
  backupJobs = new Map<string, BackupJob>()
  maintenance = new Set<string>()
  /** HA guests moved away by node maintenance → the node they return to when it ends (the CRM's maintenance_node). */
  maintenanceOrigin = new Map<number, string>()
  nextidRange = { lower: 100, upper: 1_000_000 }
  private pidCounter = 0x1000

  nextPid(): number {
    return (this.pidCounter += 1 + Math.floor(Math.random() * 64))
  }

  node(name: string): SimNode {
    const n = this.nodes.get(name)
    if (!n) throw new PveError(`no such cluster node '${name}'`)
    return n
  }

  storage(id: string): Storage {
    const s = this.storages.get(id)
    if (!s) throw new PveError(`storage '${id}' does not exist`)
    return s
  }

  storageOnNode(id: string, node: string): Storage {
    const s = this.storage(id)
    if (s.disabled) throw new PveError(`storage '${id}' is disabled`)
    if (s.nodes && !s.nodes.includes(node)) throw new PveError(`storage '${id}' is not available on node '${node}'`)
    return s
  }

  scope(storage: Storage, node: string): string {
    return storage.shared ? storage.id : `${node}/${storage.id}`
  }

  /** The VM config on `node`, as PVE's load_config sees it (config dir of that node only). */
  vmOnNode(node: string, vmid: number): Vm {
    const vm = this.vms.get(vmid)
    if (!vm || vm.node !== node) throw new PveError(`Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist`)
    return vm
  }

  /** check_running's assert_config_exists_on_node variant of "does not exist". */
  vmOnNodeForRunCheck(node: string, vmid: number): Vm {
    const vm = this.vms.get(vmid)
    if (!vm || vm.node !== node) throw new PveError(`unable to find configuration file for VM ${vmid} on node '${node}'`)
    return vm
  }

  volume(storage: Storage, node: string, volid: string): Volume | undefined {
    return this.volumes.get(`${this.scope(storage, node)}|${volid}`)
  }

  /** Finds a volume by full volid (`storage:volname`) as seen from `node`. */
  findVolume(node: string, fullVolid: string): Volume | undefined {
    const i = fullVolid.indexOf(':')
    if (i < 0) return undefined
    const storage = this.storages.get(fullVolid.slice(0, i))
    return storage ? this.volume(storage, node, fullVolid) : undefined
  }

  addVolume(v: Volume) {
    const storage = this.storage(v.storage)
    this.volumes.set(`${this.scope(storage, v.node ?? '')}|${v.volid}`, v)
  }

  removeVolume(v: Volume) {
    const storage = this.storage(v.storage)
    this.volumes.delete(`${this.scope(storage, v.node ?? '')}|${v.volid}`)
  }

  volumesOn(storage: Storage, node: string): Volume[] {
    const prefix = `${this.scope(storage, node)}|`
    const out: Volume[] = []
    for (const [k, v] of this.volumes) if (k.startsWith(prefix)) out.push(v)
    return out
  }

  usedBytes(storage: Storage, node: string): number {
    return this.volumesOn(storage, node).reduce((sum, v) => sum + v.size, 0)
  }

  /** Used bytes of every storage scope (see scope()) in one pass: listings of many storages. */
  usedBytesByScope(): Map<string, number> {
    const used = new Map<string, number>()
    for (const [k, v] of this.volumes) {
      const scope = k.slice(0, k.indexOf('|'))
      used.set(scope, (used.get(scope) ?? 0) + v.size)
    }
    return used
  }

  /** Next free volume name for a VM disk (find_free_diskname), per storage type. */
  newDiskName(storage: Storage, node: string, vmid: number, format: string, prefix = 'vm'): string {
    const used = new Set(this.volumesOn(storage, node).map((v) => v.volid))
    for (let n = 0; ; n++) {
      const volid = this.diskVolid(storage, vmid, `${prefix}-${vmid}-disk-${n}`, format)
      const alt = this.diskVolid(storage, vmid, `${prefix === 'vm' ? 'base' : 'vm'}-${vmid}-disk-${n}`, format)
      if (!used.has(volid) && !used.has(alt)) return volid
    }
  }

  diskVolid(storage: Storage, vmid: number, name: string, format: string): string {
    if (storage.type === 'dir' || storage.type === 'nfs') return `${storage.id}:${vmid}/${name}.${format}`
    return `${storage.id}:${name}`
  }

  defaultFormat(storage: Storage): string {
    return storage.type === 'dir' || storage.type === 'nfs' ? 'qcow2' : 'raw'
  }

  supportsSnapshot(storage: Storage, format: string): boolean {
    if (storage.type === 'lvmthin' || storage.type === 'rbd') return true
    return format === 'qcow2'
  }

  /** Drives of a config: key → parsed drive (CD-ROMs included). */
  drives(config: Record<string, string>): [string, Drive][] {
    return Object.keys(config)
      .filter((k) => DRIVE_KEY_RE.test(k))
      .sort()
      .map((k) => [k, parseDrive(k, config[k])] as [string, Drive])
  }

  /** Volumes a VM owns: drives, unusedN, pending drives, snapshot drives (no CD-ROMs). */
  ownedVolids(vm: Vm): string[] {
    const out = new Set<string>()
    const collect = (config: Record<string, string>) => {
      for (const [k, v] of Object.entries(config)) {
        if (!DRIVE_KEY_RE.test(k) && !/^unused\d+$/.test(k) && k !== 'vmstate') continue
        const d = k === 'vmstate' ? { volid: v, opts: {} } : parseDrive(k, v)
        if (isCdrom(d) && !/-cloudinit/.test(d.volid)) continue
        if (volidOwner(d.volid) === vm.vmid) out.add(d.volid)
      }
    }
    collect(vm.config)
    collect(vm.pending)
    for (const s of vm.snapshots.values()) collect(s.config)
    return [...out]
  }

  configText(vm: Vm): string {
    const section = (config: Record<string, string>) => {
      const lines: string[] = []
      if (config.description) for (const l of config.description.split('\n')) lines.push(`#${l}`)
      for (const k of Object.keys(config).sort()) if (k !== 'description') lines.push(`${k}: ${config[k]}`)
      return lines.join('\n') + '\n'
    }
    let text = section(vm.config)
    if (Object.keys(vm.pending).length || vm.pendingDelete.size) {
      const pending: Record<string, string> = { ...vm.pending }
      if (vm.pendingDelete.size) pending.delete = [...vm.pendingDelete].map(([k, force]) => (force ? `!${k}` : k)).join(',')
      text += `\n[PENDING]\n${section(pending)}`
    }
    for (const s of vm.snapshots.values()) {
      const c: Record<string, string> = { ...s.config, snaptime: String(s.snaptime) }
      if (s.description) c.description = s.description
      if (s.parent) c.parent = s.parent
      if (s.snapstate) c.snapstate = s.snapstate
      text += `\n[${s.name}]\n${section(c)}`
    }
    return text
  }

  digest(vm: Vm): string {
    return createHash('sha1').update(this.configText(vm)).digest('hex')
  }

  memoryMiB(config: Record<string, string>): number {
    const m = config.memory ? /^(?:current=)?(\d+)/.exec(config.memory) : null
    return m ? Number(m[1]) : 512
  }

  cpus(config: Record<string, string>): number {
    return Number(config.cores ?? 1) * Number(config.sockets ?? 1)
  }

  /** Size of the boot disk in bytes (maxdisk), 0 without disks. */
  bootDiskSize(config: Record<string, string>): number {
    const disks = this.drives(config).filter(([, d]) => !isCdrom(d))
    const order = /order=([^,]+)/.exec(config.boot ?? '')?.[1]?.split(';') ?? []
    const boot = disks.find(([k]) => order.includes(k)) ?? disks[0]
    return boot?.[1].opts.size ? parseSize(boot[1].opts.size) : 0
  }
}

/** The vmid a volume name belongs to (`vm-100-disk-0`, `100/vm-100-disk-0.qcow2`, `base-9000-…/vm-101-…`). */
export function volidOwner(volid: string): number | undefined {
  const name = volid.slice(volid.indexOf(':') + 1).split('/').pop()!
  const m = /^(?:vm|base)-(\d+)-/.exec(name)
  return m ? Number(m[1]) : undefined
}

export function randomMac(rand: () => number): string {
  const bytes = [0xbc, 0x24, 0x11, ...[0, 1, 2].map(() => Math.floor(rand() * 256))]
  return bytes.map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join(':')
}

/** Tags as PVE stores them: split on `;`, `,` and whitespace, lower-cased, de-duplicated, sorted. */
export function normalizeTags(text: string): string {
  const tags = text.split(/[;,\s]+/).filter(Boolean).map((t) => t.toLowerCase())
  return [...new Set(tags)].sort((a, b) => a.localeCompare(b)).join(';')
}
