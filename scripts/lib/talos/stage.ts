// The Talos and Flux stages of `pve:cluster:create` (after the VMs run), also used by
// talos:bootstrap and flux:bootstrap. Every talosctl/flux call goes through the runners of
// talosctl.ts with the binaries of config.tools, so the sandbox and tests use the stand-ins.
import { existsSync } from 'node:fs'
import { UsageError } from '../errors.ts'
import type { LoadedProfile } from '../profile.ts'
import { bootstrapCluster, health, type BootstrapResult, type Timing } from './bootstrap.ts'
import { generateConfigs, talosNodes } from './configs.ts'
import { clusterPaths } from './secrets.ts'
import { Flux, Talosctl } from './talosctl.ts'

/** The parts of cluster-config.yaml the stages read (structurally a subset of ClusterConfig). */
export interface StageConfig {
  tools: { talosctl?: string; flux?: string }
  sandbox: boolean
  cloudinit?: { nameservers?: string[] }
}

export interface StageOptions {
  onProgress?: (message: string) => void
  timing?: Partial<Timing>
  factoryUrl?: string
  imageCache?: boolean
}

export const talosctlFor = (config: StageConfig) => new Talosctl({ bin: config.tools.talosctl })

/** Configs (secrets generated once), apply, bootstrap exactly once, kubeconfig, health. */
export async function talosStage(profile: LoadedProfile, config: StageConfig, opts: StageOptions = {}): Promise<BootstrapResult> {
  if (profile.type !== 'talos' || !profile.talos) throw new UsageError(`profile ${profile.name} is not a Talos cluster (type: ${profile.type})`)
  const talosctl = talosctlFor(config)
  const generated = await generateConfigs(profile, talosctl, {
    factoryUrl: opts.factoryUrl,
    nameservers: config.cloudinit?.nameservers,
    imageCache: opts.imageCache,
    onProgress: opts.onProgress,
  })
  return bootstrapCluster(talosNodes(profile), generated.paths, talosctl, { sandbox: config.sandbox, timing: opts.timing, onProgress: opts.onProgress })
}

export interface FluxResult {
  skipped?: string
  repo?: string
}

/** `flux bootstrap git` with the profile's repo, path and branch, once the cluster is healthy. */
export async function fluxStage(profile: LoadedProfile, config: StageConfig, opts: StageOptions & { privateKeyFile?: string } = {}): Promise<FluxResult> {
  const progress = opts.onProgress ?? (() => {})
  if (!profile.flux) return { skipped: `profile ${profile.name} has no flux section` }
  const paths = clusterPaths(profile)
  if (!existsSync(paths.kubeconfig)) throw new UsageError(`no kubeconfig at ${paths.kubeconfig}`, `bootstrap the cluster first: task talos:bootstrap PROFILE=${profile.name}`)
  const nodes = talosNodes(profile)
  const talosctl = talosctlFor(config).withTalosconfig(paths.talosconfig)
  const controlPlanes = nodes.filter((n) => n.role === 'controlplane')
  progress('checking cluster health before Flux')
  await health(talosctl, controlPlanes[0], controlPlanes, nodes.filter((n) => n.role === 'worker'), Math.min(opts.timing?.healthMs ?? 5 * 60_000, 5 * 60_000))
  const flux = new Flux({ bin: config.tools.flux, kubeconfig: paths.kubeconfig })
  await flux.run(['check', '--pre'], { timeoutMs: 120_000 })
  const args = ['bootstrap', 'git', '--url', profile.flux.repo, '--path', profile.flux.path, '--branch', profile.flux.branch, '--silent']
  if (opts.privateKeyFile) args.push('--private-key-file', opts.privateKeyFile)
  progress(`flux bootstrap git ${profile.flux.repo} (path ${profile.flux.path}, branch ${profile.flux.branch})`)
  await flux.run(args)
  return { repo: profile.flux.repo }
}
