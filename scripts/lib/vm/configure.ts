// `set`: bring a VM's config to what the user asked for, sending only what differs (compared
// under PVE's normalisation) together with the digest it was compared against. Never reboots:
// changes a running VM cannot take live stay pending, and we say which.
import { UsageError, ConflictError } from '../errors.ts'
import { errorText, qemuPath, type VmResource } from './api.ts'
import { changeEffect, diffConfig, type ChangeEffect, type ConfigChange, type WantedValue } from './config-diff.ts'
import { ensureUnlocked, getConfig, getStatus, type VmOps } from './context.ts'
import { retryWithBackoff } from './executor.ts'
import { describeContention, isLockTimeout } from './locks.ts'
import { mergeIpConfig } from './normalize.ts'

/** The user-facing settings of `pve:vm:set` (all optional). */
export interface VmSettings {
  cores?: number
  sockets?: number
  memory?: number
  name?: string
  tags?: string
  net?: string
  ip?: string
  gw?: string
  ciuser?: string
  sshkeys?: string
  nameserver?: string
  searchdomain?: string
  description?: string
  onboot?: boolean
  protection?: boolean
  /** Any other config key (`key=value`; an empty value deletes the key). */
  extra?: Record<string, string>
  /** Interface index for NET/IP/GW (net<i>, ipconfig<i>). */
  index?: number
}

const KEY_RE = /^[a-z][a-z0-9_-]*$/
// Keys `set` must not write through --set: they have their own commands, or are not config.
const RESERVED = new Set(['digest', 'delete', 'revert', 'skiplock', 'lock', 'template', 'vmid', 'node', 'force'])

/** The wanted config (PVE keys) for the settings, given the current config (for IP/GW merging). */
export function wantedConfig(settings: VmSettings, current: Record<string, unknown>): Record<string, WantedValue | undefined> {
  const i = settings.index ?? 0
  const wanted: Record<string, WantedValue | undefined> = {
    cores: settings.cores,
    sockets: settings.sockets,
    memory: settings.memory,
    name: settings.name,
    tags: settings.tags,
    ciuser: settings.ciuser,
    sshkeys: settings.sshkeys,
    nameserver: settings.nameserver,
    searchdomain: settings.searchdomain,
    description: settings.description,
    onboot: settings.onboot,
    protection: settings.protection,
  }
  if (settings.net !== undefined) wanted[`net${i}`] = settings.net
  if (settings.ip !== undefined || settings.gw !== undefined) {
    wanted[`ipconfig${i}`] = mergeIpConfig(current[`ipconfig${i}`] as string | undefined, { ip: settings.ip, gw: settings.gw })
  }
  for (const [key, value] of Object.entries(settings.extra ?? {})) {
    if (!KEY_RE.test(key) || RESERVED.has(key)) throw new UsageError(`--set ${key}: not a config key this command may write`)
    if (key in wanted && wanted[key] !== undefined) throw new UsageError(`--set ${key}: given twice (also as its own option)`)
    wanted[key] = value === '' ? null : value
  }
  if (Object.values(wanted).every((v) => v === undefined)) throw new UsageError('nothing to set: give at least one of CORES, MEMORY, TAGS, IP, GW, NET, CIUSER, SSHKEYS, ... (see --help)')
  return wanted
}

export interface AppliedChange extends ConfigChange {
  effect: ChangeEffect
}

export interface SetResult {
  vmid: number
  changes: AppliedChange[]
  /** Keys PVE lists as pending after the update (authoritative; empty for dry runs). */
  pending: string[]
  applied: boolean
}

/** Computes (and unless dryRun, applies) the update. A second run finds nothing to send. */
export async function setVmConfig(ops: VmOps, vm: VmResource, settings: VmSettings, opts: { dryRun: boolean }): Promise<SetResult> {
  return retryWithBackoff(
    async () => {
      if (vm.lock && !opts.dryRun) await ensureUnlocked(ops, vm)
      const [config, status] = await Promise.all([getConfig(ops.api, vm), getStatus(ops.api, vm)])
      const update = diffConfig(config, wantedConfig(settings, config))
      const running = status.status === 'running'
      const changes = update.changes.map((c) => ({ ...c, effect: changeEffect(c.key, { running, hotplug: config.hotplug }) }))
      if (!update.params || opts.dryRun) return { vmid: vm.vmid, changes, pending: [], applied: false }
      await ops.api.put(qemuPath(vm.node, vm.vmid, '/config'), update.params)
      const pending = await ops.api.get<{ key: string; pending?: unknown; delete?: number }[]>(qemuPath(vm.node, vm.vmid, '/pending'))
      return { vmid: vm.vmid, changes, pending: pending.filter((p) => p.pending !== undefined || p.delete).map((p) => p.key), applied: true }
    },
    {
      attempts: 4,
      // lock timeouts changed nothing; a digest mismatch means someone else wrote: re-read and re-diff
      retryable: (err) => isLockTimeout(errorText(err)) || /checksum mismatch/.test(errorText(err)),
      onRetry: (err) => ops.log(`VM ${vm.vmid}: ${isLockTimeout(errorText(err)) ? describeContention(errorText(err)) : 'its config changed meanwhile (checksum mismatch)'}; re-reading the config and trying again`),
    },
  ).catch((err) => {
    if (/checksum mismatch/.test(errorText(err))) throw new ConflictError(`VM ${vm.vmid}: its config keeps changing underneath us (checksum mismatch)`, 'retry when the other writer is done')
    throw err
  })
}
