// The compound cluster operations: rebuild (teardown + create, one confirmation), scale (workers
// added by create; removed ones reset the Talos way first, then destroyed), and replace-node
// (reset, destroy, create again). Each shows exactly what it will do, confirms, honours --dry-run,
// and touches only VMs carrying the cluster's owner marker.
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { parseDocument } from 'yaml'
import { ConfigError, ConflictError, NotFoundError, RefusedError, UsageError } from '../errors.ts'
import { info, renderTable } from '../output.ts'
import { confirmDestructive, confirmTyped } from '../prompts.ts'
import { expandMembers, loadProfile, type LoadedProfile } from '../profile.ts'
import { removeTalosNode } from '../talos/remove.ts'
import { clusterPaths } from '../talos/secrets.ts'
import { checkProfile } from './profile-rules.ts'
import { ClusterJournal } from './journal.ts'
import { createCluster, describeTeardown, planTeardownRun, teardownCluster, type ClusterRun } from './commands.ts'
import { destroyJobs, prepareCreate, ResumableError, runJobs, type EngineOptions } from './engine.ts'
import type { LiveVm } from './plan.ts'
import type { StageResults } from './stages.ts'
import type { ClusterPlan } from './plan.ts'

export interface DestructiveOptions {
  dryRun: boolean
  yes: boolean
  shutdownTimeoutSeconds: number
}

const vmTable = (vms: LiveVm[]) =>
  renderTable(vms, [
    { header: 'vmid', value: (v) => v.vmid, align: 'right' },
    { header: 'name', value: (v) => v.name },
    { header: 'node', value: (v) => v.node },
    { header: 'status', value: (v) => v.status },
  ])

// ---------------------------------------------------------------------------------------------
// rebuild

export async function rebuildCluster(run: ClusterRun, opts: DestructiveOptions): Promise<{ plan: ClusterPlan; stages: StageResults } | undefined> {
  const name = run.profile.name
  const prepared = await planTeardownRun(run, new ClusterJournal(name), false)
  const count = prepared.plan.targets.length
  const size = expandMembers(run.profile, run.config, { workers: run.workers }).length
  process.stdout.write(`${describeTeardown(prepared)}\n`)
  if (opts.dryRun) {
    info(`dry run, nothing changed: rebuild of ${name} would destroy ${count} VM(s), then create ${size} from the profile`)
    return undefined
  }
  await confirmTyped(`Rebuild cluster ${name}: destroy ${count} VM${count === 1 ? '' : 's'} and their disks, then create ${size} from the profile? This cannot be undone.`, name, { yes: opts.yes })
  await teardownCluster(run, { dryRun: false, yes: true, shutdownTimeoutSeconds: opts.shutdownTimeoutSeconds, confirmed: true })
  return createCluster(run)
}

// ---------------------------------------------------------------------------------------------
// Talos: taking a node out before its VM goes

/**
 * The Talos way out of the cluster (scripts/lib/talos/remove.ts): `talosctl reset --graceful`
 * (cordon, drain, a control plane leaves etcd; the membership is checked from a peer). Nothing to
 * do when the cluster was never bootstrapped (no talosconfig).
 */
async function removeFromTalos(profile: LoadedProfile, config: EngineOptions['config'], name: string): Promise<string> {
  const paths = clusterPaths(profile)
  if (!existsSync(paths.talosconfig)) return `${name}: no talosconfig (${paths.talosconfig}): the cluster was never bootstrapped, nothing to reset`
  // Workers beyond the count (scale down, or a resumed one) are still nodes of the profile here.
  const workers = profile.nodes.workers
  const all = workers ? { ...profile, nodes: { ...profile.nodes, workers: { ...workers, count: Math.max(workers.count, workers.assignments.length) } } } : profile
  const result = await removeTalosNode(all, config, name, { onProgress: info })
  const simulated = config.sandbox ? ' (sandbox: the talosctl stand-in)' : ''
  if (result.alreadyRemoved) return `${name}: already out of the Talos cluster (${result.api})${simulated}`
  return `${name}: ${result.done.length ? result.done.join(', ') : 'nothing to reset'}${simulated}`
}

/** Resets (Talos) and destroys owned VMs; ResumableError when one of them did not go. */
async function removeVms(run: ClusterRun, journal: ClusterJournal, vms: LiveVm[], opts: DestructiveOptions): Promise<void> {
  const release = journal.lock()
  try {
    const o: EngineOptions = { client: run.client, config: run.config, profile: run.profile, journal }
    const prepared = await prepareCreate(o, { persist: true })
    if (run.profile.type === 'talos') {
      for (const vm of vms) {
        info(await removeFromTalos(run.profile, run.config, vm.name))
      }
    }
    const failures = await runJobs(destroyJobs(o, journal, prepared.view, vms, prepared.owner, opts), (vm, m) => info(`${vm}: ${m}`))
    if (failures.length) throw new ResumableError(`removing VMs of ${run.profile.name}`, failures, journal.journalFile)
  } finally {
    release()
  }
}

// ---------------------------------------------------------------------------------------------
// scale

/** The profile with another worker count, checked by the profile's own rules (no file written). */
export function withWorkerCount(profile: LoadedProfile, config: EngineOptions['config'], workers: number): LoadedProfile {
  if (!profile.nodes.workers) throw new UsageError(`profile ${profile.name} has no nodes.workers group`, `add one (name_prefix, sizing${profile.type === 'talos' ? ', assignments with ip' : ''}) to ${profile.file}`)
  const scaled = { ...profile, nodes: { ...profile.nodes, workers: { ...profile.nodes.workers, count: workers } } }
  const errors = checkProfile(scaled, config, profile.name).filter((i) => i.severity === 'error')
  if (errors.length) throw new ConfigError(errors.map((e) => ({ file: profile.file, path: e.path.join('.'), message: `with WORKERS=${workers}: ${e.message}` })))
  return scaled
}

/** Rewrites nodes.workers.count in the profile file, keeping its comments and layout. */
async function writeWorkerCount(file: string, workers: number): Promise<void> {
  const doc = parseDocument(await readFile(file, 'utf8'))
  doc.setIn(['nodes', 'workers', 'count'], workers)
  await writeFile(file, doc.toString())
}

export async function scaleCluster(run: ClusterRun, workers: number, opts: DestructiveOptions): Promise<{ plan: ClusterPlan; stages: StageResults } | undefined> {
  const name = run.profile.name
  const current = run.profile.nodes.workers?.count ?? 0
  const scaled = withWorkerCount(run.profile, run.config, workers)
  const journal = new ClusterJournal(name)
  const o: EngineOptions = { client: run.client, config: run.config, profile: scaled, journal }
  const prepared = await prepareCreate(o, { persist: false })
  // Workers of this cluster (owner marker) that the scaled profile no longer describes.
  const workerNames = new Set(expandMembers(run.profile, run.config, { reserved: true }).filter((m) => m.role === 'worker').map((m) => m.name))
  const removals = prepared.plan.extra.filter((v) => workerNames.has(v.name))
  const others = prepared.plan.extra.filter((v) => !workerNames.has(v.name))
  if (others.length) throw new ConflictError(`VMs of ${name} that are not workers of its profile: ${others.map((v) => `${v.vmid} (${v.name})`).join(', ')}`, 'scale only removes workers; remove these by hand or fix the profile')
  const additions = prepared.plan.vms.filter((v) => v.state === 'missing').map((v) => v.desired.name)
  info(`${name}: workers ${current} → ${workers}${additions.length ? `; adds ${additions.join(', ')}` : ''}${removals.length ? `; removes ${removals.map((v) => v.name).join(', ')}` : ''}${!additions.length && !removals.length ? '; no VM to add or remove' : ''}`)
  if (removals.length) {
    process.stdout.write(`${vmTable(removals)}\n`)
    if (run.profile.type === 'talos') info('each removed worker is first reset the Talos way (talosctl reset --graceful: cordon, drain, wipe), then shut down and deleted with its disks')
  }
  if (opts.dryRun) {
    info(`dry run, nothing changed${current !== workers ? ` (${run.profile.file} still says count: ${current})` : ''}`)
    return undefined
  }
  if (removals.length) await confirmDestructive(`Remove ${removals.length} worker${removals.length === 1 ? '' : 's'} of ${name} (${removals.map((v) => v.name).join(', ')}) and delete their disks?`, { yes: opts.yes })
  // The profile is the inventory: it says the new size first, so an interrupted run is finished
  // by running scale (or create) again.
  if (current !== workers) await writeWorkerCount(run.profile.file, workers)
  const profile = await loadProfile(run.profile.file, run.config)
  const scaledRun = { ...run, profile }
  if (removals.length) await removeVms(scaledRun, journal, removals, opts)
  return createCluster(scaledRun)
}

// ---------------------------------------------------------------------------------------------
// replace-node

export async function replaceNode(run: ClusterRun, nodeName: string, opts: DestructiveOptions): Promise<{ plan: ClusterPlan; stages: StageResults } | undefined> {
  const name = run.profile.name
  const members = expandMembers(run.profile, run.config, { workers: run.workers })
  const member = members.find((m) => m.name === nodeName)
  if (!member) throw new NotFoundError(`${nodeName} is not a node of profile ${name}`, `its nodes: ${members.map((m) => m.name).join(', ')}`)
  if (run.profile.type === 'talos' && member.role === 'controlplane' && members.filter((m) => m.role === 'controlplane').length < 2) {
    throw new RefusedError(`${nodeName} is the only control plane of ${name}: replacing it destroys the cluster's etcd`, `use task pve:cluster:rebuild PROFILE=${name}, or add a control plane first`)
  }
  const journal = new ClusterJournal(name)
  const prepared = await prepareCreate({ client: run.client, config: run.config, profile: run.profile, journal }, { persist: false })
  const vmPlan = prepared.plan.vms.find((v) => v.desired.name === nodeName)!
  if (vmPlan.state === 'foreign') throw new ConflictError(`${nodeName}: ${vmPlan.note}`, 'the tool never touches a VM without its owner marker')
  if (vmPlan.state === 'busy') throw new ConflictError(`${nodeName}: ${vmPlan.note}`, 'wait for the task, then run replace-node again')
  const live = vmPlan.live
  if (live) process.stdout.write(`${vmTable([live])}\n`)
  const steps = [
    ...(live && run.profile.type === 'talos' ? [`talosctl reset --graceful on ${nodeName} (cordon, drain${member.role === 'controlplane' ? ', leave etcd' : ''})`] : []),
    ...(live ? [`shut down and delete VM ${live.vmid} on ${live.node} with its disks`] : [`VM ${member.vmid} does not exist: nothing to destroy`]),
    `clone ${nodeName} again from template ${run.profile.template} (VMID ${member.vmid}${member.ip ? `, ${member.ip}` : ''}) and start it`,
    ...(run.profile.type === 'talos' ? [`Talos: apply its config, join the cluster (no second etcd bootstrap), health`] : []),
  ]
  info(`replace ${nodeName} of ${name}:\n  ${steps.join('\n  ')}`)
  if (opts.dryRun) {
    info('dry run, nothing changed')
    return undefined
  }
  if (live) {
    await confirmDestructive(`Replace ${nodeName} of ${name}: destroy VM ${live.vmid} and its disks, then create it again?`, { yes: opts.yes })
    await removeVms(run, journal, [live], opts)
  }
  return createCluster(run)
}
