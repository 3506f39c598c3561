// Rolling Talos upgrades: one node at a time, control planes first, to the profile's factory
// installer for the target version (so the schematic and its extensions travel with every upgrade:
// the installer is never read back from a node, cluster-template#1680). Nodes already at the target
// version and schematic are skipped. Before the first node and after every node the same gates run:
// the node is back with the target version and schematic (a silent A/B rollback is a failure),
// every control plane is an etcd member, and `talosctl health` passes with the explicit node lists.
// The first failed gate stops the rollout; the nodes not yet upgraded are left alone.
import { TaskFailedError, UsageError } from '../errors.ts'
import type { LoadedProfile } from '../profile.ts'
import { health, resolveTiming, waitForState, etcdState, type Timing } from './bootstrap.ts'
import { installerImage, type TalosNode } from './configs.ts'
import { memberOf } from './remove.ts'
import { profileSchematic, DEFAULT_FACTORY } from './schematic.ts'
import { parseJsonStream, parseServerVersion, type Talosctl } from './talosctl.ts'
import { checkUpgradePath, formatVersion, normalizeKubernetesVersion, parseVersion } from './versions.ts'

export interface NodeVersion {
  node: TalosNode
  version: string
  schematic?: string
}

export type UpgradeAction = 'upgrade' | 'skip'

export interface UpgradeStep extends NodeVersion {
  action: UpgradeAction
  reason: string
}

export interface UpgradePlan {
  target: string
  /** The schematic the installer carries (undefined: a vanilla installer, not compared). */
  schematic?: string
  installer: string
  steps: UpgradeStep[]
}

export interface UpgradeOptions {
  sandbox: boolean
  factoryUrl?: string
  /** Deadline of one node's upgrade (image pull, drain, reboot). */
  nodeTimeoutMs?: number
  timing?: Partial<Timing>
  onProgress?: (message: string) => void
  /** Called with the plan before the first node is touched (confirmation). */
  confirm?: (plan: UpgradePlan) => Promise<void>
}

export interface UpgradeResult {
  plan: UpgradePlan
  upgraded: string[]
  skipped: string[]
}

/** The profile as it would be at another Talos version (installer and schematic checks reuse it). */
function profileAt(profile: LoadedProfile, version: string): LoadedProfile {
  return { ...profile, talos: { ...profile.talos!, version } }
}

export function exactTarget(version: string): string {
  const v = parseVersion(version)
  if (!v || v.patch === undefined) throw new UsageError(`"${version}" is not an exact Talos release such as v1.13.2`, 'see https://github.com/siderolabs/talos/releases')
  return formatVersion(v)
}

/** What a node runs: `talosctl version` (server tag) and the schematic pseudo-extension. */
export async function nodeVersion(talosctl: Talosctl, node: TalosNode): Promise<NodeVersion> {
  const v = await talosctl.run(['version'], { nodes: [node.ip], timeoutMs: 30_000 })
  const version = parseServerVersion(v.stdout)
  if (!version) throw new TaskFailedError(`could not read the Talos version of ${node.name} (${node.ip}) from talosctl version`)
  const ext = await talosctl.run(['get', 'extensions', '--output', 'json'], { nodes: [node.ip], timeoutMs: 30_000 })
  const schematic = parseJsonStream<{ spec?: { metadata?: { name?: string; version?: string } } }>(ext.stdout).find((r) => r.spec?.metadata?.name === 'schematic')?.spec?.metadata?.version
  return { node, version, schematic }
}

/** Reads every node, checks every version path, and decides per node; changes nothing. */
export async function planUpgrade(profile: LoadedProfile, nodes: TalosNode[], talosctl: Talosctl, version: string, opts: Pick<UpgradeOptions, 'factoryUrl'> = {}): Promise<UpgradePlan> {
  const target = exactTarget(version)
  const at = profileAt(profile, target)
  const installer = installerImage(at, opts.factoryUrl ?? DEFAULT_FACTORY)
  const schematic = profile.talos?.factory ? profileSchematic(at, opts.factoryUrl ?? DEFAULT_FACTORY).id : undefined
  const ordered = [...nodes.filter((n) => n.role === 'controlplane'), ...nodes.filter((n) => n.role === 'worker')]
  const steps: UpgradeStep[] = []
  for (const node of ordered) {
    const current = await nodeVersion(talosctl, node)
    checkUpgradePath(current.version, target) // refuses before any node is touched
    const sameVersion = current.version === target
    const sameSchematic = !schematic || current.schematic === schematic
    if (sameVersion && sameSchematic) steps.push({ ...current, action: 'skip', reason: 'already at the target version and schematic' })
    else {
      const changes = [...(sameVersion ? [] : [`${current.version} → ${target}`]), ...(sameSchematic ? [] : [`schematic ${short(current.schematic)} → ${short(schematic)}`])]
      steps.push({ ...current, action: 'upgrade', reason: changes.join(', ') })
    }
  }
  return { target, schematic, installer, steps }
}

const short = (id?: string) => (id ? id.slice(0, 12) : 'none')

/** Every control plane of the profile is an etcd member, and nothing else is. */
async function checkMembership(talosctl: Talosctl, controlPlanes: TalosNode[], via: TalosNode): Promise<void> {
  const s = await etcdState(talosctl, via)
  if (!s.running) throw new TaskFailedError(`etcd is not running on ${via.name} (${s.serviceState ?? 'no answer'})`, { hint: `talosctl -n ${via.ip} service etcd` })
  const missing = controlPlanes.filter((cp) => !memberOf(cp, s.members))
  const extra = s.members.filter((m) => !controlPlanes.some((cp) => memberOf(cp, [m])))
  if (missing.length || extra.length) {
    throw new TaskFailedError(
      `etcd membership seen from ${via.name} does not match the control planes:${missing.length ? ` missing ${missing.map((n) => n.name).join(', ')}` : ''}${extra.length ? ` unexpected ${extra.map((m) => m.hostname || m.id).join(', ')}` : ''}`,
      { hint: `talosctl -n ${via.ip} etcd members` },
    )
  }
}

/** The gates between nodes: node back at the target, etcd membership, cluster health. */
async function gates(talosctl: Talosctl, nodes: TalosNode[], plan: UpgradePlan, after: TalosNode | undefined, opts: UpgradeOptions, timing: Timing): Promise<void> {
  const controlPlanes = nodes.filter((n) => n.role === 'controlplane')
  const workers = nodes.filter((n) => n.role === 'worker')
  if (after) {
    await waitForState(talosctl, [after], ['configured'], `${after.name} to come back after its upgrade`, { sandbox: opts.sandbox }, timing)
    const now = await nodeVersion(talosctl, after)
    if (now.version !== plan.target || (plan.schematic && now.schematic !== plan.schematic)) {
      throw new TaskFailedError(`${after.name} runs ${now.version} (schematic ${short(now.schematic)}) after its upgrade, not ${plan.target} (schematic ${short(plan.schematic)}): it rolled back or the upgrade did not take`, {
        hint: `talosctl -n ${after.ip} dmesg; talosctl -n ${after.ip} logs installer`,
      })
    }
  }
  const via = after?.role === 'controlplane' ? after : controlPlanes[0]
  if (via) await checkMembership(talosctl, controlPlanes, via)
  await health(talosctl, via ?? nodes[0], controlPlanes, workers, timing.healthMs)
}

export async function rollingUpgrade(profile: LoadedProfile, nodes: TalosNode[], talosctl: Talosctl, version: string, opts: UpgradeOptions): Promise<UpgradeResult> {
  const progress = opts.onProgress ?? (() => {})
  const timing = resolveTiming(opts.sandbox, opts.timing)
  const plan = await planUpgrade(profile, nodes, talosctl, version, opts)
  const result: UpgradeResult = { plan, upgraded: [], skipped: plan.steps.filter((s) => s.action === 'skip').map((s) => s.node.name) }
  const todo = plan.steps.filter((s) => s.action === 'upgrade')
  if (!todo.length) return result
  await opts.confirm?.(plan)

  const fail = (err: unknown, stage: string): never => {
    const left = todo.map((s) => s.node.name).filter((n) => !result.upgraded.includes(n))
    const message = err instanceof Error ? err.message : String(err)
    throw new TaskFailedError(`upgrade stopped ${stage}: ${message}`, {
      logTail: [`upgraded: ${result.upgraded.join(', ') || 'none'}`, `not upgraded: ${left.join(', ')}`, ...(err instanceof TaskFailedError ? err.logTail : [])],
      hint: err instanceof TaskFailedError && err.hint ? err.hint : 'fix the cause and re-run: upgraded nodes are skipped',
    })
  }

  progress('gate before the first node: etcd membership and cluster health')
  await gates(talosctl, nodes, plan, undefined, opts, timing).catch((e) => fail(e, 'before the first node (the cluster is not healthy)'))

  const nodeTimeout = opts.nodeTimeoutMs ?? 20 * 60_000
  for (const step of todo) {
    const { node } = step
    progress(`${node.name} (${node.role}): upgrading ${step.reason} with ${plan.installer}`)
    const call = await talosctl.run(['upgrade', '--image', plan.installer, '--wait', '--timeout', `${Math.round(nodeTimeout / 1000)}s`], { nodes: [node.ip], timeoutMs: nodeTimeout + 60_000, nothrow: true })
    if (call.ok) {
      await gates(talosctl, nodes, plan, node, opts, timing).catch((e) => fail(e, `after ${node.name}`))
    } else {
      // talosctl upgrade can lose its answer while the node finishes in the background (talos#11830):
      // the node decides. At the target and healthy, the rollout goes on; otherwise it stops here.
      const what = `talosctl upgrade of ${node.name} ${call.timedOut ? 'timed out' : `failed: ${(call.stderr || call.stdout).trim().split('\n').slice(-3).join('; ')}`}`
      progress(`${what}; checking the node before anything else`)
      await gates(talosctl, nodes, plan, node, opts, timing).catch((e) => fail(new TaskFailedError(`${what} (${e instanceof Error ? e.message : String(e)})`, { hint: e instanceof TaskFailedError ? e.hint : undefined }), `at ${node.name}`))
      progress(`${node.name}: the upgrade took effect despite the failed call`)
    }
    result.upgraded.push(node.name)
    progress(`${node.name}: at ${plan.target}, etcd and cluster healthy`)
  }
  return result
}

export interface KubernetesUpgradeResult {
  plan: string
  applied: boolean
}

/**
 * `talosctl upgrade-k8s --to`: always a --dry-run first (its plan is shown and any problem it
 * finds stops here), then, unless dryRun, the upgrade itself after confirmation.
 */
export async function upgradeKubernetes(
  talosctl: Talosctl,
  controlPlanes: TalosNode[],
  to: string,
  opts: { dryRun: boolean; timeoutMs?: number; confirm?: (plan: string) => Promise<void>; onProgress?: (m: string) => void },
): Promise<KubernetesUpgradeResult> {
  const version = normalizeKubernetesVersion(to)
  const via = controlPlanes[0]
  if (!via) throw new UsageError('the profile has no control plane')
  const progress = opts.onProgress ?? (() => {})
  progress(`talosctl upgrade-k8s --to ${version} --dry-run (via ${via.name})`)
  const dry = await talosctl.run(['upgrade-k8s', '--to', version, '--dry-run'], { nodes: [via.ip], timeoutMs: 10 * 60_000 })
  const plan = dry.stdout.trim()
  if (opts.dryRun) return { plan, applied: false }
  await opts.confirm?.(plan)
  progress(`talosctl upgrade-k8s --to ${version}`)
  await talosctl.run(['upgrade-k8s', '--to', version], { nodes: [via.ip], timeoutMs: opts.timeoutMs ?? 60 * 60_000 })
  return { plan, applied: true }
}
