// What every talos:* and flux:* command opens first: the cluster config (for tools, sandbox and
// profile rules), the validated Talos profile, its file locations and the talosctl runner.
import type { GlobalFlags } from '../cli.ts'
import { loadClusterConfig, type ClusterConfig } from '../config.ts'
import { UsageError } from '../errors.ts'
import { loadProfile, type LoadedProfile } from '../profile.ts'
import { clusterPaths, type ClusterPaths } from './secrets.ts'
import { talosctlFor } from './stage.ts'
import type { Talosctl } from './talosctl.ts'

export interface TalosContext {
  config: ClusterConfig
  profile: LoadedProfile
  paths: ClusterPaths
  talosctl: Talosctl
}

export async function openTalosContext(cli: Pick<GlobalFlags, 'configPath'>, profileName: string): Promise<TalosContext> {
  const config = await loadClusterConfig(cli.configPath)
  const profile = await loadProfile(profileName, config)
  if (profile.type !== 'talos' || !profile.talos) throw new UsageError(`profile ${profile.name} is not a Talos cluster (type: ${profile.type})`)
  return { config, profile, paths: clusterPaths(profile), talosctl: talosctlFor(config) }
}

/** The Image Factory to use: --factory, else $PM_TALOS_FACTORY, else factory.talos.dev. */
export const factoryUrlFrom = (option?: string) => option ?? process.env.PM_TALOS_FACTORY
