// Taking one node out of a Talos cluster the Talos way. A reachable node is reset gracefully
// (`talosctl reset --graceful`: Talos cordons and drains it and, on a control plane, leaves etcd
// itself); membership is then checked from another control plane. A control plane that cannot be
// reached is removed from etcd by member ID from a healthy peer (`etcd remove-member`, which the
// Talos docs reserve for exactly that case). Removing a control plane is refused when it would
// leave etcd without quorum or without members. The Kubernetes Node object is left to kubectl.
import { existsSync } from 'node:fs'
import { NotFoundError, RefusedError, TaskFailedError, UsageError } from '../errors.ts'
import type { LoadedProfile } from '../profile.ts'
import { probeNode, etcdState, type NodeApiState } from './bootstrap.ts'
import { talosNodes, type TalosNode } from './configs.ts'
import { clusterPaths, type ClusterPaths } from './secrets.ts'
import { talosctlFor, type StageConfig } from './stage.ts'
import type { EtcdMember, Talosctl } from './talosctl.ts'

export type WipeMode = 'state' | 'all'

export interface RemovalOptions {
  /** state (default): wipe STATE and EPHEMERAL, the node returns to maintenance mode on reboot; all: the whole system disk. */
  wipe?: WipeMode
  /** Reboot after the reset (default true: the VM comes back in maintenance mode); false powers it off. */
  reboot?: boolean
  /** Deadline of the reset itself (drain included). */
  resetTimeoutMs?: number
  onProgress?: (message: string) => void
}

export interface RemovalPlan {
  node: TalosNode
  /** What the node answered: a maintenance-mode node is not in the cluster any more. */
  api: NodeApiState
  /** Its etcd membership as seen from `via` (control planes only). */
  member?: EtcdMember
  /** The healthy control plane used for etcd checks. */
  via?: TalosNode
  /** Members before the removal, and how many of the others run etcd. */
  members: EtcdMember[]
  healthyPeers: number
  /** The steps, in order, for the confirmation prompt and --dry-run. */
  steps: string[]
  /** Nothing to do: the node is already out (maintenance mode, no etcd member). */
  alreadyRemoved: boolean
}

export interface RemovalResult extends RemovalPlan {
  done: string[]
}

/** Does this etcd member belong to the node? By hostname (set from the profile) or peer address. */
export function memberOf(node: TalosNode, members: EtcdMember[]): EtcdMember | undefined {
  return members.find((m) => m.hostname === node.name || m.peerUrls.some((u) => hostOf(u) === node.ip))
}

const hostOf = (url: string) => /^[a-z]+:\/\/\[?([^\]/]+?)\]?:\d+/.exec(url)?.[1]

export function findNode(profile: LoadedProfile, nameOrIp: string): TalosNode {
  const nodes = talosNodes(profile)
  const node = nodes.find((n) => n.name === nameOrIp || n.ip === nameOrIp)
  if (!node) throw new NotFoundError(`node ${nameOrIp} is not in profile ${profile.name}`, `its nodes: ${nodes.map((n) => n.name).join(', ')}`)
  return node
}

function resetArgs(opts: RemovalOptions): string[] {
  const timeout = `${Math.round((opts.resetTimeoutMs ?? 10 * 60_000) / 1000)}s`
  const args = ['reset', '--graceful=true', '--wait=true', '--timeout', timeout, `--reboot=${opts.reboot ?? true}`]
  if ((opts.wipe ?? 'state') === 'state') args.push('--system-labels-to-wipe', 'STATE', '--system-labels-to-wipe', 'EPHEMERAL')
  return args
}

/** Looks at the node and etcd and decides what removing it takes; changes nothing. */
export async function planNodeRemoval(talosctl: Talosctl, nodes: TalosNode[], node: TalosNode, opts: RemovalOptions & { sandbox: boolean }): Promise<RemovalPlan> {
  const api = await probeNode(talosctl, node, { sandbox: opts.sandbox })
  const plan: RemovalPlan = { node, api, members: [], healthyPeers: 0, steps: [], alreadyRemoved: false }
  const wipe = (opts.wipe ?? 'state') === 'state' ? 'wipe STATE and EPHEMERAL' : 'wipe the whole system disk'
  const after = (opts.reboot ?? true) ? 'reboot into maintenance mode' : 'power off'

  if (node.role === 'controlplane') {
    const peers = nodes.filter((n) => n.role === 'controlplane' && n.ip !== node.ip)
    for (const peer of peers) {
      const s = await etcdState(talosctl, peer)
      if (!s.running) continue
      plan.healthyPeers++
      if (!plan.via) {
        plan.via = peer
        plan.members = s.members
      }
    }
    plan.member = plan.via ? memberOf(node, plan.members) : undefined
    if (!plan.via) {
      if (api === 'maintenance') return { ...plan, alreadyRemoved: true }
      throw new RefusedError(
        `no other control plane of the cluster runs etcd: removing ${node.name} would remove the last etcd member, i.e. destroy the cluster`,
        'to delete the whole cluster use pve:cluster:teardown; to replace this node, add a control plane first',
      )
    }
    if (!plan.member && api !== 'configured') return { ...plan, alreadyRemoved: true }
    if (plan.member) {
      // Quorum of the members that remain, counting only peers whose etcd runs.
      const remaining = plan.members.length - 1
      const quorum = Math.floor(remaining / 2) + 1
      if (plan.healthyPeers < quorum) {
        throw new RefusedError(
          `removing ${node.name} leaves ${remaining} etcd member(s) of which only ${plan.healthyPeers} run etcd: below the quorum of ${quorum}`,
          'bring the stopped control planes back first (talosctl service etcd on each)',
        )
      }
    }
    if (api === 'configured') {
      plan.steps.push(`talosctl reset --graceful on ${node.name} (${node.ip}): cordon, drain, leave etcd, ${wipe}, ${after}`)
      plan.steps.push(`check from ${plan.via.name} that ${node.name} is no longer an etcd member`)
    } else {
      plan.steps.push(`${node.name} (${node.ip}) is ${api}: remove its etcd member ${plan.member!.id} from ${plan.via.name} (talosctl etcd remove-member)`)
    }
  } else {
    if (api === 'maintenance') return { ...plan, alreadyRemoved: true }
    if (api === 'unreachable') {
      plan.steps.push(`${node.name} (${node.ip}) is unreachable: nothing to reset at the Talos level`)
    } else {
      plan.steps.push(`talosctl reset --graceful on ${node.name} (${node.ip}): cordon, drain, ${wipe}, ${after}`)
    }
  }
  plan.steps.push(`afterwards delete the Kubernetes node object: kubectl delete node ${node.name}`)
  return plan
}

/** The etcd members as `via` sees them; an etcd that does not answer is an error, never "no members". */
async function membersFrom(talosctl: Talosctl, via: TalosNode, leaving: TalosNode): Promise<EtcdMember[]> {
  const s = await etcdState(talosctl, via)
  if (!s.running) throw new TaskFailedError(`cannot check that ${leaving.name} left etcd: etcd on ${via.name} is ${s.serviceState ?? 'not answering'}`, { hint: `talosctl -n ${via.ip} etcd members` })
  return s.members
}

/** Carries out a plan made by planNodeRemoval. */
export async function executeNodeRemoval(talosctl: Talosctl, plan: RemovalPlan, opts: RemovalOptions = {}): Promise<RemovalResult> {
  const progress = opts.onProgress ?? (() => {})
  const done: string[] = []
  const { node, via } = plan
  if (plan.alreadyRemoved) return { ...plan, done }

  if (plan.api === 'configured') {
    progress(`${node.name}: resetting gracefully (drain${node.role === 'controlplane' ? ', leave etcd' : ''})`)
    await talosctl.run(resetArgs(opts), { nodes: [node.ip], timeoutMs: (opts.resetTimeoutMs ?? 10 * 60_000) + 60_000 })
    done.push(`reset ${node.name}`)
  }
  if (node.role !== 'controlplane' || !via) return { ...plan, done }

  // The graceful reset left etcd before it returned; a member still listed (a dead node, or a
  // reset that did not leave) is removed by ID from the healthy peer.
  let members = await membersFrom(talosctl, via, node)
  const member = memberOf(node, members)
  if (member) {
    progress(`${node.name}: still etcd member ${member.id}; removing it from ${via.name}`)
    await talosctl.run(['etcd', 'remove-member', member.id], { nodes: [via.ip], timeoutMs: 60_000 })
    done.push(`etcd remove-member ${member.id}`)
    members = await membersFrom(talosctl, via, node)
    if (memberOf(node, members)) throw new TaskFailedError(`${node.name} is still an etcd member after remove-member`, { hint: `talosctl -n ${via.ip} etcd members` })
  }
  progress(`${node.name}: not an etcd member any more (${members.length} member(s) left: ${members.map((m) => m.hostname).join(', ')})`)
  return { ...plan, done }
}

/** The talosctl (with the cluster's talosconfig), file locations and nodes of a Talos profile. */
export function talosNodeContext(profile: LoadedProfile, config: StageConfig): { talosctl: Talosctl; paths: ClusterPaths; nodes: TalosNode[] } {
  if (profile.type !== 'talos' || !profile.talos) throw new UsageError(`profile ${profile.name} is not a Talos cluster (type: ${profile.type})`)
  const paths = clusterPaths(profile)
  if (!existsSync(paths.talosconfig)) throw new UsageError(`no talosconfig at ${paths.talosconfig}`, `generate it with task talos:config PROFILE=${profile.name}`)
  return { talosctl: talosctlFor(config).withTalosconfig(paths.talosconfig), paths, nodes: talosNodes(profile) }
}

/**
 * For callers outside talos:* (pve:cluster:* pipelines): plan and, unless dryRun, remove one node
 * of a Talos profile. Confirmation is the caller's job (show plan.steps first).
 */
export async function removeTalosNode(
  profile: LoadedProfile,
  config: StageConfig,
  nodeNameOrIp: string,
  opts: RemovalOptions & { dryRun?: boolean; confirm?: (plan: RemovalPlan) => Promise<void> } = {},
): Promise<RemovalResult> {
  const { talosctl, nodes } = talosNodeContext(profile, config)
  const plan = await planNodeRemoval(talosctl, nodes, findNode(profile, nodeNameOrIp), { ...opts, sandbox: config.sandbox })
  if (opts.dryRun || plan.alreadyRemoved) return { ...plan, done: [] }
  await opts.confirm?.(plan)
  return executeNodeRemoval(talosctl, plan, opts)
}
