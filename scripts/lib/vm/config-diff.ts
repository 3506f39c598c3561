// Compare a wanted VM config with the one PVE has, under PVE's normalisation, and build the
// smallest update: only changed keys, plus the `digest` the comparison was made against so a
// concurrent change fails with "checksum mismatch" instead of being overwritten.
import { memoryMiB, mergeNet, normalizeTags, sameIpConfig, sameNet, sameSshKeys, encodeSshKeys, decodeSshKeys } from './normalize.ts'

/** A wanted value; `null` means "delete this key". */
export type WantedValue = string | number | boolean | null
export type VmConfig = Record<string, unknown>

export interface ConfigChange {
  key: string
  /** Current value as PVE returned it (undefined = not set). */
  from: unknown
  /** The value that will be sent (undefined = deleted). */
  to: string | undefined
}

export interface ConfigUpdate {
  changes: ConfigChange[]
  /** Parameters for PUT/POST /nodes/{node}/qemu/{vmid}/config; undefined when nothing changes. */
  params?: Record<string, string>
}

const BOOLEAN_KEYS = new Set(['onboot', 'protection', 'agent', 'acpi', 'kvm', 'numa', 'tablet', 'template', 'localtime', 'freeze', 'ciupgrade', 'autostart', 'reboot'])

function asBoolean(v: unknown): string {
  if (v === true || v === 1 || /^(1|true|yes|on)$/i.test(String(v))) return '1'
  return '0'
}

/** The string PVE is sent for a wanted value, given the current config (keeps MACs). */
export function wireValue(key: string, wanted: Exclude<WantedValue, null>, current: VmConfig): string {
  const text = typeof wanted === 'boolean' ? (wanted ? '1' : '0') : String(wanted)
  if (key === 'tags') return normalizeTags(text)
  if (key === 'sshkeys') return encodeSshKeys(/%[0-9A-F]{2}/i.test(text) ? decodeSshKeys(text) : text)
  if (/^net\d+$/.test(key)) return mergeNet(current[key] as string | undefined, text)
  if (BOOLEAN_KEYS.has(key)) return asBoolean(text)
  return text
}

/** True when PVE already holds the wanted value (comparison under PVE's normal forms). */
export function sameValue(key: string, current: unknown, wire: string): boolean {
  if (current === undefined || current === null) return false
  const cur = String(current)
  if (key === 'tags') return normalizeTags(cur) === wire
  if (key === 'sshkeys') return sameSshKeys(cur, decodeSshKeys(wire))
  if (/^net\d+$/.test(key)) return sameNet(cur, wire)
  if (/^ipconfig\d+$/.test(key)) return sameIpConfig(cur, wire)
  if (key === 'memory') return memoryMiB(cur) === memoryMiB(wire)
  if (BOOLEAN_KEYS.has(key)) return asBoolean(cur) === wire
  if (/^-?\d+(\.\d+)?$/.test(cur) && /^-?\d+(\.\d+)?$/.test(wire)) return Number(cur) === Number(wire)
  return cur === wire
}

/**
 * The update that brings `current` (GET .../config, which already includes pending values) to
 * `wanted`. Unchanged keys are left out; a re-run against the result yields no params at all.
 */
export function diffConfig(current: VmConfig, wanted: Record<string, WantedValue | undefined>): ConfigUpdate {
  const changes: ConfigChange[] = []
  const set: Record<string, string> = {}
  const deletes: string[] = []
  for (const [key, value] of Object.entries(wanted)) {
    if (value === undefined) continue
    if (value === null) {
      if (current[key] !== undefined) {
        deletes.push(key)
        changes.push({ key, from: current[key], to: undefined })
      }
      continue
    }
    const wire = wireValue(key, value, current)
    if (key === 'tags' && wire === '') {
      if (current.tags !== undefined && normalizeTags(String(current.tags)) !== '') {
        deletes.push(key)
        changes.push({ key, from: current.tags, to: undefined })
      }
      continue
    }
    if (sameValue(key, current[key], wire)) continue
    set[key] = wire
    changes.push({ key, from: current[key], to: wire })
  }
  if (!changes.length) return { changes }
  const params: Record<string, string> = { ...set }
  if (deletes.length) params.delete = deletes.join(',')
  if (typeof current.digest === 'string') params.digest = current.digest
  return { changes, params }
}

// PVE applies these at once even on a running VM (QemuServer.pm $fast_plug_option).
const FAST_PLUG = new Set([
  'description', 'hookscript', 'lock', 'migrate_downtime', 'migrate_speed', 'name', 'onboot', 'protection', 'shares',
  'startup', 'tags', 'vmstatestorage',
])
const CLOUDINIT = new Set(['ciuser', 'cipassword', 'citype', 'ciupgrade', 'cicustom', 'nameserver', 'searchdomain', 'sshkeys'])
const LIVE_TUNABLES = new Set(['balloon', 'cpulimit', 'cpuunits'])

export type ChangeEffect = 'immediate' | 'next-boot' | 'pending'

/** Hotplug features from the `hotplug` config value (default `network,disk,usb`). */
export function hotplugFeatures(value: unknown): Set<string> {
  const text = value === undefined || value === null ? '1' : String(value)
  if (text === '0') return new Set()
  if (text === '1') return new Set(['network', 'disk', 'usb'])
  return new Set(text.split(',').map((s) => s.trim()))
}

/**
 * How a change to `key` takes effect: `immediate` (applied now), `next-boot` (cloud-init: in the
 * config now, seen by the guest when cloud-init runs again) or `pending` (stays in PVE's pending
 * section until the VM is restarted). Stopped VMs apply everything at once.
 */
export function changeEffect(key: string, opts: { running: boolean; hotplug?: unknown }): ChangeEffect {
  const isCloudInit = CLOUDINIT.has(key) || /^ipconfig\d+$/.test(key)
  if (!opts.running) return isCloudInit ? 'next-boot' : 'immediate'
  if (FAST_PLUG.has(key)) return 'immediate'
  if (isCloudInit) return 'next-boot'
  const features = hotplugFeatures(opts.hotplug)
  if (LIVE_TUNABLES.has(key)) return 'immediate'
  if (/^net\d+$/.test(key)) return features.has('network') ? 'immediate' : 'pending'
  if (key === 'memory') return features.has('memory') ? 'immediate' : 'pending'
  if (key === 'vcpus') return features.has('cpu') ? 'immediate' : 'pending'
  if (/^(scsi|virtio)\d+$/.test(key)) return features.has('disk') ? 'immediate' : 'pending'
  if (/^usb\d+$/.test(key)) return features.has('usb') ? 'immediate' : 'pending'
  return 'pending'
}
