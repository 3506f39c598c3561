// VM config semantics shared by create, config PUT/POST, clone and restore: value normalisation
// (tags, net MACs, memory), disk allocation from `STORAGE:SIZE` / `import-from`, pending changes
// for running VMs, and the privilege each key needs.
import { PveError, paramError } from './clock.ts'
import type { SimContext } from './context.ts'
import type { TaskContext } from './tasks.ts'
import { formatSize, GiB, isCdrom, normalizeTags, parseDrive, printDrive, randomMac, type Drive, type Vm } from './state.ts'
import { parsePropertyString } from './validate/engine.ts'
import { DRIVE_KEY_RE, netFormat, qemuConfigProperties } from './validate/qemu-formats.ts'
import { splitList } from './validate/formats.ts'

const CLOUDINIT_KEYS = new Set(['ciuser', 'cipassword', 'citype', 'ciupgrade', 'cicustom', 'nameserver', 'searchdomain', 'sshkeys'])
/** Keys applied at once even on running VMs (qemu-server's $fast_plug_option + cloud-init keys). */
const FAST_PLUG = new Set(['description', 'hookscript', 'lock', 'migrate_downtime', 'migrate_speed', 'name', 'onboot', 'protection', 'shares', 'startup', 'tags', 'vmstatestorage', ...CLOUDINIT_KEYS])
const CPU_KEYS = new Set(['cores', 'sockets', 'cpu', 'cpulimit', 'cpuunits', 'vcpus', 'numa', 'affinity', 'smp'])
const MEMORY_KEYS = new Set(['memory', 'balloon', 'shares', 'hugepages', 'keephugepages', 'allow-ksm'])
const HWTYPE_KEYS = /^(scsihw|bios|machine|vga|hostpci\d+|usb\d+|serial\d+|parallel\d+|audio0|rng0|watchdog|tablet|keyboard|arch|ivshmem|virtiofs\d+|amd-sev|intel-tdx|tdf|kvm|acpi|localtime)$/

export function isConfigKey(key: string): boolean {
  if (qemuConfigProperties[key]) return true
  const m = /^([a-z]+?)(\d+)$/.exec(key)
  return !!m && !!qemuConfigProperties[`${m[1]}[n]`]
}

/** The privilege PVE's config update requires for a key (and value, for CD-ROMs). */
export function keyPrivilege(key: string, value?: string): string {
  if (DRIVE_KEY_RE.test(key) || /^unused\d+$/.test(key)) {
    if (value && /media=cdrom/.test(value) && !/cloudinit/.test(value)) return 'VM.Config.CDROM'
    return 'VM.Config.Disk'
  }
  if (key === 'cdrom') return 'VM.Config.CDROM'
  if (CLOUDINIT_KEYS.has(key) || /^ipconfig\d+$/.test(key)) return 'VM.Config.Cloudinit'
  if (CPU_KEYS.has(key)) return 'VM.Config.CPU'
  if (MEMORY_KEYS.has(key)) return 'VM.Config.Memory'
  if (/^net\d+$/.test(key)) return 'VM.Config.Network'
  if (HWTYPE_KEYS.test(key)) return 'VM.Config.HWType'
  return 'VM.Config.Options'
}

/** Canonical net string: `model=MAC` first, then the other keys sorted. Generates a MAC if missing. */
export function normalizeNet(value: string, rand: () => number, newMac = false): string {
  const p = parsePropertyString(netFormat, value)
  const mac = newMac || !p.macaddr ? randomMac(rand) : p.macaddr.toUpperCase()
  const rest = Object.keys(p).filter((k) => k !== 'model' && k !== 'macaddr').sort()
  return [`${p.model}=${mac}`, ...rest.map((k) => `${k}=${p[k]}`)].join(',')
}

export function normalizeValue(key: string, value: string, rand: () => number): string {
  if (key === 'tags') return normalizeTags(value)
  if (/^net\d+$/.test(key)) return normalizeNet(value, rand)
  if (key === 'memory') return /^(?:current=)?(\d+)$/.exec(value)?.[1] ?? value
  return value
}

/** The config as GET …/config shows it: pending values applied, pending deletions removed. */
export function effectiveConfig(vm: Vm): Record<string, string> {
  const out = { ...vm.config, ...vm.pending }
  for (const k of vm.pendingDelete.keys()) delete out[k]
  return out
}

/** Next free `unusedN` key. */
function nextUnused(config: Record<string, string>): string {
  for (let i = 0; ; i++) if (!config[`unused${i}`] ) return `unused${i}`
}

/**
 * Turns `STORAGE:SIZE`, `STORAGE:0,import-from=…` and `STORAGE:cloudinit` into allocated volumes.
 * Returns the stored drive string. Existing volumes are checked for existence.
 */
export async function materializeDrive(sim: SimContext, vm: Vm, key: string, value: string, task: TaskContext, created: string[]): Promise<string> {
  const d = parseDrive(key, value)
  if (d.volid === 'none' || d.volid === 'cdrom' || d.volid.startsWith('/dev/')) return printDrive(d)
  const m = /^([^:]+):(.*)$/.exec(d.volid)
  if (!m) throw new PveError(`unable to parse volume ID '${d.volid}'`)
  const [, storeid, rest] = m
  const storage = sim.state.storageOnNode(storeid, vm.node)
  const fresh = /^\d+(\.\d+)?$/.test(rest) || rest === 'cloudinit'
  if (!fresh) {
    const vol = sim.state.volume(storage, vm.node, d.volid)
    if (!vol) throw new PveError(`volume '${d.volid}' does not exist`)
    if (!isCdrom(d) && !d.opts.size) d.opts.size = formatSize(vol.size)
    return printDrive(d)
  }
  if (!storage.content.includes('images')) throw new PveError(`storage '${storeid}' does not support vm images`)
  const format = d.opts.format ?? sim.state.defaultFormat(storage)
  delete d.opts.format
  if (rest === 'cloudinit') {
    const volid = sim.state.diskVolid(storage, vm.vmid, `vm-${vm.vmid}-cloudinit`, format)
    await sim.allocate(storage, vm.node, task, () => sim.state.addVolume({ volid, storage: storeid, node: storage.shared ? undefined : vm.node, vmid: vm.vmid, size: 4 * 1024 * 1024, format, content: 'images', ctime: now() }))
    created.push(volid)
    return printDrive({ volid, opts: { media: 'cdrom' } })
  }
  let size = Math.round(Number(rest) * GiB)
  let importBytes = 0
  const source = d.opts['import-from']
  if (source) {
    delete d.opts['import-from']
    if (source.startsWith('/')) {
      const fileSize = sim.nodeFiles.get(`${vm.node}:${source}`)
      if (fileSize === undefined) throw new PveError(`import source '${source}' does not exist`)
      importBytes = fileSize
    } else {
      const src = sim.state.findVolume(vm.node, source)
      if (!src) throw new PveError(`volume '${source}' does not exist`)
      if (!['images', 'import', 'iso'].includes(src.content)) throw new PveError(`cannot import from '${source}' - content type '${src.content}' not supported`)
      importBytes = src.size
    }
    size = Math.max(size, Math.ceil(importBytes / GiB) * GiB)
  }
  const volid = sim.state.newDiskName(storage, vm.node, vm.vmid, format)
  await sim.allocate(storage, vm.node, task, () => sim.state.addVolume({ volid, storage: storeid, node: storage.shared ? undefined : vm.node, vmid: vm.vmid, size, format, content: 'images', ctime: now() }))
  created.push(volid)
  if (source) {
    task.log(`importing disk '${source}' to VM ${vm.vmid} ...`)
    await sim.copy(storage, vm.node, importBytes, task.signal)
    task.log(`Successfully imported disk as '${key}:${volid}'`)
  }
  d.volid = volid
  d.opts.size = formatSize(size)
  return printDrive(d)
}

export const now = () => Math.floor(Date.now() / 1000)

export interface ConfigChange {
  set: Record<string, string>
  delete: string[]
  revert: string[]
  force: boolean
}

/** Splits and checks the `delete`/`revert` lists (PVE's early checks, 400s). */
export function parseConfigChange(params: Record<string, any>, specialKeys: Set<string>): ConfigChange {
  const set: Record<string, string> = {}
  for (const [k, v] of Object.entries(params)) if (!specialKeys.has(k)) set[k] = String(v)
  const lists = { delete: [] as string[], revert: [] as string[] }
  for (const which of ['delete', 'revert'] as const) {
    for (let key of splitList(params[which] ?? '')) {
      if (key === 'cdrom') key = 'ide2'
      if (!isConfigKey(key)) throw paramError({ [which]: `unknown option '${key}'` })
      if (set[key] !== undefined) throw paramError({ [which]: `you can't use '-${key}' and -${which} ${key}' at the same time` })
      lists[which].push(key)
    }
  }
  if (set.cdrom !== undefined) {
    set.ide2 = set.cdrom.includes('media=') ? set.cdrom : `${set.cdrom},media=cdrom`
    delete set.cdrom
  }
  return { set, delete: lists.delete, revert: lists.revert, force: !!params.force }
}

function freeVolume(sim: SimContext, vm: Vm, volid: string) {
  const vol = sim.state.findVolume(vm.node, volid)
  if (vol && vol.vmid === vm.vmid) sim.state.removeVolume(vol)
}

/** Applies a config change under the VM lock (the caller holds it). Runs in a request or a task. */
export async function applyConfigChange(sim: SimContext, vm: Vm, change: ConfigChange, task: TaskContext) {
  const running = vm.status === 'running'
  const hotplug = new Set((vm.config.hotplug ?? 'network,disk,usb').split(','))
  const hotpluggable = (key: string) =>
    FAST_PLUG.has(key) || /^ipconfig\d+$/.test(key) ||
    (/^net\d+$/.test(key) && hotplug.has('network')) ||
    ((DRIVE_KEY_RE.test(key) || /^unused\d+$/.test(key)) && hotplug.has('disk')) ||
    (/^usb\d+$/.test(key) && hotplug.has('usb'))
  for (const key of change.revert) {
    delete vm.pending[key]
    vm.pendingDelete.delete(key)
  }
  for (const key of change.delete) {
    const current = vm.pending[key] ?? vm.config[key]
    if (current === undefined) {
      task.log(`cannot delete '${key}' - not set in current configuration!`)
      continue
    }
    if (running && !hotpluggable(key)) {
      vm.pendingDelete.set(key, change.force)
      continue
    }
    delete vm.pending[key]
    vm.pendingDelete.delete(key)
    const old = vm.config[key]
    delete vm.config[key]
    if (old && (DRIVE_KEY_RE.test(key) || /^unused\d+$/.test(key))) {
      const d = parseDrive(key, old)
      if (!isCdrom(d) || /-cloudinit/.test(d.volid)) {
        if (change.force || /^unused\d+$/.test(key) || /-cloudinit/.test(d.volid)) freeVolume(sim, vm, d.volid)
        else vm.config[nextUnused(vm.config)] = printDrive({ volid: d.volid, opts: {} })
      }
    }
  }
  const created: string[] = []
  try {
    for (const [key, raw] of Object.entries(change.set)) {
      let value = normalizeValue(key, raw, sim.rand)
      if (DRIVE_KEY_RE.test(key)) value = await materializeDrive(sim, vm, key, value, task, created)
      if (running && !hotpluggable(key)) {
        vm.pending[key] = value
        vm.pendingDelete.delete(key)
        continue
      }
      const old = vm.config[key]
      vm.config[key] = value
      delete vm.pending[key]
      if (old && DRIVE_KEY_RE.test(key)) {
        const before: Drive = parseDrive(key, old)
        const after = parseDrive(key, value)
        if (before.volid !== after.volid && !isCdrom(before) && volidOwnerMatches(before.volid, vm.vmid)) vm.config[nextUnused(vm.config)] = before.volid
      }
    }
  } catch (e) {
    for (const volid of created) freeVolume(sim, vm, volid)
    throw e
  }
  if (!change.set.boot && !vm.config.boot && !vm.pending.boot) {
    const firstDisk = sim.state.drives(vm.config).find(([, d]) => !isCdrom(d))
    if (firstDisk && change.set[firstDisk[0]]) vm.config.boot = `order=${firstDisk[0]}`
  }
}

function volidOwnerMatches(volid: string, vmid: number) {
  return new RegExp(`(^|[:/])(vm|base)-${vmid}-`).test(volid)
}

/** Applies pending changes (on start/stop/reboot of a VM). */
export function applyPending(sim: SimContext, vm: Vm) {
  for (const [k, force] of vm.pendingDelete) {
    const old = vm.config[k]
    delete vm.config[k]
    if (old && DRIVE_KEY_RE.test(k) && !isCdrom(parseDrive(k, old))) {
      if (force) freeVolume(sim, vm, parseDrive(k, old).volid)
      else vm.config[nextUnused(vm.config)] = parseDrive(k, old).volid
    }
  }
  Object.assign(vm.config, vm.pending)
  vm.pending = {}
  vm.pendingDelete.clear()
}

