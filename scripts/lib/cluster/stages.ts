// The steps of create after every VM runs and matches the profile: the Talos stage (configs,
// apply, etcd bootstrap exactly once, kubeconfig, health) and the Flux stage, both from
// scripts/lib/talos/stage.ts. Generic profiles skip both; a profile without `flux` skips Flux, and
// so does a re-run after Flux was bootstrapped from the same repository, path and branch
// (recorded in the cluster state; task flux:bootstrap bootstraps again on purpose).
// In the sandbox the talosctl and flux of config.tools are the stand-ins, and the titles say so.
import { relative } from 'node:path'
import type { ListrTask } from 'listr2'
import type { ClusterConfig } from '../config.ts'
import type { LoadedProfile } from '../profile.ts'
import type { BootstrapResult } from '../talos/bootstrap.ts'
import type { ClusterJournal } from './journal.ts'
import { fluxStage, talosctlFor, talosStage, type FluxResult } from '../talos/stage.ts'
import { talosNodes } from '../talos/configs.ts'
import { toolError } from '../talos/talosctl.ts'
import { TaskFailedError } from '../errors.ts'

export interface StageResults {
  talos?: BootstrapResult
  flux?: FluxResult
}

/** How the title names where the stage runs: simulated nodes in the sandbox. */
function where(config: ClusterConfig, tool: 'talosctl' | 'flux'): string {
  if (!config.sandbox) return ''
  const bin = config.tools[tool] ?? tool
  const shown = bin.includes('/') ? relative(process.cwd(), bin) || bin : bin
  return ` [sandbox: simulated nodes, ${tool} stand-in ${shown}]`
}

export function stageTasks<Ctx extends { stages?: StageResults }>(profile: LoadedProfile, config: ClusterConfig, journal: ClusterJournal): ListrTask<Ctx>[] {
  const generic = profile.type !== 'talos' ? `${profile.name} is a generic cluster: no Talos stage` : undefined
  const fluxDone = () => {
    const done = journal.readState()?.flux
    const wanted = profile.flux
    return done && wanted && done.repo === wanted.repo && done.path === wanted.path && done.branch === wanted.branch ? done : undefined
  }
  return [
    {
      title: `Talos: configs, apply, bootstrap etcd once, kubeconfig, health${where(config, 'talosctl')}`,
      skip: () => generic ?? false,
      task: async (ctx, task) => {
        const result = await talosStage(profile, config, { onProgress: (m) => (task.output = m) })
        ctx.stages = { ...ctx.stages, talos: result }
        const boot = result.bootstrapped === 'now' ? 'etcd bootstrapped' : 'etcd was already bootstrapped (not again)'
        task.title = `Talos: ${boot}; configs applied to ${result.applied.length ? result.applied.join(', ') : 'no node (all configured)'}; healthy${where(config, 'talosctl')}`
      },
    },
    {
      title: `Flux: bootstrap from the profile's repository${where(config, 'flux')}`,
      skip: () => {
        if (generic) return `${profile.name} is a generic cluster: no Flux stage`
        if (!profile.flux) return `${profile.name} has no flux section: no Flux stage`
        const done = fluxDone()
        return done ? `Flux: already bootstrapped from ${done.repo} (path ${done.path}, branch ${done.branch}) at ${done.at}; not again (task flux:bootstrap PROFILE=${profile.name} does it on purpose)` : false
      },
      task: async (ctx, task) => {
        const result = await fluxStage(profile, config, { onProgress: (m) => (task.output = m) })
        const { repo, path, branch } = profile.flux!
        journal.updateState((st) => (st.flux = { repo, path, branch, at: new Date().toISOString() }))
        ctx.stages = { ...ctx.stages, flux: result }
        task.title = `Flux: bootstrapped from ${result.repo} (path ${profile.flux!.path}, branch ${profile.flux!.branch})${where(config, 'flux')}`
      },
    },
  ]
}

/**
 * Sandbox only: a teardown deleted the VMs of a Talos cluster with their disks, so the simulated
 * nodes at their addresses go too, and a VM created there again boots into maintenance mode (as a
 * real one does) instead of the stand-in still calling it configured and bootstrapped. Tells the
 * talosctl stand-in (`talosctl standin destroyed`, not a real talosctl command). `ips` are the
 * addresses of the VMs destroyed; the profile's are added, so a resumed teardown still does it.
 * Returns what it did, or undefined outside the sandbox and for generic profiles.
 */
export async function forgetSimulatedNodes(profile: LoadedProfile, config: ClusterConfig, ips: string[]): Promise<string | undefined> {
  if (!config.sandbox || profile.type !== 'talos') return undefined
  const nodes = [...new Set([...talosNodes(profile).map((n) => n.ip), ...ips])]
  const talosctl = talosctlFor(config)
  const args = ['standin', 'destroyed']
  const result = await talosctl.run(args, { nodes, insecure: true, nothrow: true, timeoutMs: 30_000 })
  if (!result.ok) {
    const err = toolError(talosctl.bin, args, result, 30_000)
    throw new TaskFailedError(`the VMs are gone, but the simulated Talos nodes could not be told: ${err.message}`, { logTail: err.logTail, hint: 'in the sandbox tools.talosctl must be the stand-in (test/standins/talosctl); then run the teardown again' })
  }
  return `sandbox: the simulated Talos nodes ${nodes.join(', ')} are gone with their VMs (a VM created again boots into maintenance mode)${where(config, 'talosctl')}`
}
