// Replacing one node of a Talos cluster, at the Talos level: the node keeps its name, address and
// machine config (from the profile), the machine under it changes. For a control plane an etcd
// snapshot is taken first; the old node leaves (graceful reset, or remove-member when it is dead);
// then the machine that answers in maintenance mode at the node's address (the same VM reset, or a
// new VM that pve:cluster:replace-node cloned with the same IP) gets the config; the gate is etcd
// membership (control planes) and `talosctl health` with the full node lists.
import { existsSync } from 'node:fs'
import { TaskFailedError, UsageError } from '../errors.ts'
import type { LoadedProfile } from '../profile.ts'
import { etcdState, health, resolveTiming, waitForState, type Timing } from './bootstrap.ts'
import type { TalosNode } from './configs.ts'
import { backupEtcd, type BackupResult } from './etcd-backup.ts'
import { executeNodeRemoval, findNode, memberOf, planNodeRemoval, talosNodeContext, type RemovalOptions, type RemovalPlan } from './remove.ts'
import { clusterPaths, type ClusterPaths } from './secrets.ts'
import type { StageConfig } from './stage.ts'
import type { Talosctl } from './talosctl.ts'

export interface JoinOptions {
  sandbox: boolean
  timing?: Partial<Timing>
  onProgress?: (message: string) => void
}

export interface JoinResult {
  applied: boolean
}

/**
 * Brings the machine at `node`'s address into the cluster: waits for it (maintenance mode, or
 * already configured), applies the node's config over the insecure API, waits for it to come up
 * configured, then checks etcd membership (control planes) and cluster health. Idempotent.
 */
export async function joinNode(talosctl: Talosctl, nodes: TalosNode[], node: TalosNode, paths: ClusterPaths, opts: JoinOptions): Promise<JoinResult> {
  const progress = opts.onProgress ?? (() => {})
  const timing = resolveTiming(opts.sandbox, opts.timing)
  const file = paths.nodeConfig(node.name)
  if (!existsSync(file)) throw new UsageError(`no machine config for ${node.name} at ${file}`, 'run talos:config first')
  progress(`${node.name}: waiting for a machine at ${node.ip} (maintenance mode)`)
  const state = (await waitForState(talosctl, [node], ['maintenance', 'configured'], `a machine at ${node.ip}`, { sandbox: opts.sandbox }, timing)).get(node.ip)
  const applied = state === 'maintenance'
  if (applied) {
    await talosctl.run(['apply-config', '--file', file], { nodes: [node.ip], insecure: true, timeoutMs: 120_000 })
    progress(`${node.name}: config applied, installing and rebooting`)
  } else progress(`${node.name}: already configured, not applying again`)
  await waitForState(talosctl, [node], ['configured'], `${node.name} to come up configured`, { sandbox: opts.sandbox }, timing)

  const controlPlanes = nodes.filter((n) => n.role === 'controlplane')
  if (node.role === 'controlplane') {
    const deadline = Date.now() + timing.etcdStartMs
    for (;;) {
      const s = await etcdState(talosctl, node)
      if (s.running && memberOf(node, s.members)) break
      if (Date.now() >= deadline) throw new TaskFailedError(`${node.name} did not join etcd (service ${s.serviceState ?? 'no answer'})`, { hint: `talosctl -n ${node.ip} service etcd; talosctl -n ${node.ip} logs etcd` })
      await new Promise((r) => setTimeout(r, timing.pollMs))
    }
    progress(`${node.name}: etcd member`)
  }
  await health(talosctl, controlPlanes.find((n) => n.ip !== node.ip) ?? node, controlPlanes, nodes.filter((n) => n.role === 'worker'), timing.healthMs)
  progress(`${node.name}: joined; cluster healthy`)
  return { applied }
}

export interface ReplacePlan {
  removal: RemovalPlan
  backup: boolean
  steps: string[]
}

export interface ReplaceResult {
  backup?: BackupResult
  removed: string[]
  joined: JoinResult
}

export interface ReplaceOptions extends RemovalOptions, JoinOptions {
  /** etcd snapshot before a control plane is removed (default true). */
  backup?: boolean
  keepBackups?: number
  confirm?: (plan: ReplacePlan) => Promise<void>
}

export async function planReplace(profile: LoadedProfile, config: StageConfig, nodeNameOrIp: string, opts: ReplaceOptions): Promise<ReplacePlan> {
  const { talosctl, nodes } = talosNodeContext(profile, config)
  const node = findNode(profile, nodeNameOrIp)
  // Reboot (default) brings a reset VM back in maintenance mode, ready to be joined again.
  const removal = await planNodeRemoval(talosctl, nodes, node, { ...opts, sandbox: config.sandbox })
  const backup = node.role === 'controlplane' && opts.backup !== false
  const steps = [
    ...(backup ? [`etcd snapshot into ${clusterPaths(profile).backupsDir}`] : []),
    ...(removal.alreadyRemoved ? [`${node.name} is not in the cluster (${removal.api}): nothing to remove`] : removal.steps.filter((s) => !s.startsWith('afterwards'))),
    `wait for a machine in maintenance mode at ${node.ip}, apply ${node.name}'s config`,
    `check ${node.role === 'controlplane' ? 'that it joined etcd and ' : ''}cluster health`,
  ]
  return { removal, backup, steps }
}

export async function replaceTalosNode(profile: LoadedProfile, config: StageConfig, nodeNameOrIp: string, opts: Omit<ReplaceOptions, 'sandbox'> & { dryRun?: boolean } = {}): Promise<{ plan: ReplacePlan; result?: ReplaceResult }> {
  const full = { ...opts, sandbox: config.sandbox }
  const plan = await planReplace(profile, config, nodeNameOrIp, full)
  if (opts.dryRun) return { plan }
  await opts.confirm?.(plan)
  const { talosctl, paths, nodes } = talosNodeContext(profile, config)
  const node = plan.removal.node
  let backup: BackupResult | undefined
  if (plan.backup) {
    const peers = nodes.filter((n) => n.role === 'controlplane' && n.ip !== node.ip)
    backup = await backupEtcd(profile.name, [...peers, node], talosctl, paths.backupsDir, { keep: opts.keepBackups ?? 7, onProgress: opts.onProgress })
  }
  const removed = (await executeNodeRemoval(talosctl, plan.removal, opts)).done
  const joined = await joinNode(talosctl, nodes, node, paths, full)
  return { plan, result: { backup, removed, joined } }
}
