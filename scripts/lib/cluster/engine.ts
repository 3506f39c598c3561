// Create and teardown of a whole cluster: read the live state, decide with the pure planners,
// then converge every VM in parallel under the resource limits. Every decision is re-made from a
// fresh read after each step or error, and every mutation is journaled, so a run that is killed
// or fails at any point is finished by running the same command again.
import { randomUUID } from 'node:crypto'
import type { PveClient } from '../pve/client.ts'
import { waitForTask } from '../pve/tasks.ts'
import type { ClusterConfig } from '../config.ts'
import { ConflictError, PmError, RefusedError, EXIT, type ExitCode } from '../errors.ts'
import { expandMembers, type LoadedProfile, type ProfileMember } from '../profile.ts'
import { isRetryable, cloneVm, migrateVm, configureVm, resizeDisk, startVm, powerOff, destroyVm, deleteVolume, type ActionContext } from './actions.ts'
import { ClusterJournal } from './journal.ts'
import { ResourceLimiter } from './limits.ts'
import { readClusterView, readLiveVm, readTemplate, withConfigs, findVolumes, missingVisibility, type ClusterView, type TemplateInfo, type Volume } from './live.ts'
import { parseOwner, isOwnedBy, type Owner } from './marker.ts'
import { planCluster, planVm, type ClusterPlan, type DesiredVm, type LiveVm, type VmPlan } from './plan.ts'
import { planTeardown, type TeardownPlan } from './teardown-rules.ts'

export interface EngineOptions {
  client: PveClient
  config: ClusterConfig
  profile: LoadedProfile
  journal?: ClusterJournal
  /** Worker count overriding the profile (scale). */
  workers?: number
  pollMs?: number
  /** The longest poll interval (the interval grows from pollMs). */
  maxPollMs?: number
  taskTimeoutMs?: number
  /** Base of the backoff between attempts on one VM (ms). */
  retryBaseMs?: number
  /** Attempts per VM before a run gives up on it (the next run continues). */
  maxRounds?: number
  report?: (vm: string, message: string) => void
  signal?: AbortSignal
}

const env = (name: string, fallback: number) => (Number(process.env[name]) > 0 ? Number(process.env[name]) : fallback)

function settings(o: EngineOptions) {
  return {
    pollMs: o.pollMs ?? env('PM_TASK_POLL_MS', 500),
    maxPollMs: Math.max(o.pollMs ?? env('PM_TASK_POLL_MS', 500), o.maxPollMs ?? env('PM_TASK_MAX_POLL_MS', 2000)),
    taskTimeoutMs: o.taskTimeoutMs ?? env('PM_TASK_TIMEOUT_MS', 30 * 60_000),
    retryBaseMs: o.retryBaseMs ?? env('PM_RETRY_BASE_MS', 2000),
    maxRounds: o.maxRounds ?? 8,
  }
}

/** A run that stopped before converging; running the command again continues it. */
export class ResumableError extends PmError {
  readonly failures: { vm: string; error: unknown }[]
  constructor(what: string, failures: { vm: string; error: unknown }[], journalFile: string) {
    const lines = failures.map((f) => `  ${f.vm}: ${(f.error as Error)?.message ?? String(f.error)}`)
    const code = worstExitCode(failures.map((f) => f.error))
    super(`${what}: ${failures.length} VM${failures.length === 1 ? '' : 's'} did not finish:\n${lines.join('\n')}`, code, `nothing is lost: run the same command again to continue (journal: ${journalFile})`)
    this.failures = failures
  }
}

function worstExitCode(errors: unknown[]): ExitCode {
  const codes = errors.map((e) => (e instanceof PmError ? e.exitCode : EXIT.internal))
  for (const c of [EXIT.refused, EXIT.conflict, EXIT.api, EXIT.taskFailed, EXIT.notFound, EXIT.config]) if (codes.includes(c)) return c
  return codes[0] ?? EXIT.internal
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true })
  })

/** Waits for tasks a killed run left running, so no decision is made on a half-finished VM. */
async function finishPendingTasks(o: EngineOptions, journal: ClusterJournal): Promise<void> {
  const s = settings(o)
  await Promise.all(
    journal.pendingTasks().map(async (e) => {
      try {
        await waitForTask(o.client, e.upid!, { pollMs: s.pollMs, maxPollMs: s.maxPollMs, timeoutMs: s.taskTimeoutMs, signal: o.signal, quiet: true })
        journal.append({ op: e.op, vmid: e.vmid, node: e.node, upid: e.upid, phase: 'done', detail: 'finished while no run was watching' })
      } catch (err) {
        if (err instanceof PmError && err.exitCode === EXIT.taskFailed && !(err as { exitStatus?: string }).exitStatus && /still running/.test(err.message)) throw err
        journal.append({ op: e.op, vmid: e.vmid, node: e.node, upid: e.upid, phase: 'failed', detail: (err as Error).message.split('\n')[0] })
      }
    }),
  )
}

/**
 * The cluster id of the owner marker: from the state, else adopted from live VMs of this cluster
 * when they agree on one id (the state was lost), else a new one (only written when `persist`).
 */
export function resolveOwner(journal: ClusterJournal, live: LiveVm[], persist: boolean): { owner: Owner; adopted?: number; fresh: boolean } {
  const cluster = journal.cluster
  const state = journal.readState()
  if (state) return { owner: { cluster, clusterId: state.clusterId }, fresh: false }
  const ids = new Map<string, number>()
  for (const vm of live) {
    const o = parseOwner(vm.config?.description as string | undefined)
    if (o?.cluster === cluster) ids.set(o.clusterId, (ids.get(o.clusterId) ?? 0) + 1)
  }
  if (ids.size > 1) throw new ConflictError(`VMs of cluster ${cluster} carry ${ids.size} different owner ids (${[...ids.keys()].join(', ')}) and ${journal.dir}/state.json is missing`, 'restore the state directory, or remove the VMs of the instance you do not want by hand')
  const [adopted] = [...ids.entries()]
  const owner = { cluster, clusterId: adopted?.[0] ?? randomUUID() }
  if (persist) journal.writeState({ cluster, clusterId: owner.clusterId, createdAt: new Date().toISOString(), vmids: [], placement: {} })
  return { owner, adopted: adopted?.[1], fresh: !adopted }
}

export interface CreatePrepared {
  journal: ClusterJournal
  owner: Owner
  template: TemplateInfo
  view: ClusterView
  members: ProfileMember[]
  plan: ClusterPlan
  warnings: string[]
}

/** Reads everything and plans; sends no mutating request. */
export async function prepareCreate(o: EngineOptions, opts: { persist: boolean }): Promise<CreatePrepared> {
  const journal = o.journal ?? new ClusterJournal(o.profile.name)
  const warnings: string[] = []
  if (opts.persist) await finishPendingTasks(o, journal)
  const view = await readClusterView(o.client)
  const members = expandMembers(o.profile, o.config, { workers: o.workers })
  const state = journal.readState()
  const vmids = new Set([...members.map((m) => m.vmid!), ...(state?.vmids ?? [])])
  const live = await withConfigs(o.client, view.vms, { vmids, tags: o.profile.tags })
  const { owner, adopted } = resolveOwner(journal, live, opts.persist)
  if (adopted) warnings.push(`${journal.dir}/state.json was missing: adopted cluster id ${owner.clusterId} from ${adopted} VM(s)`)
  const template = await readTemplate(o.client, view, o.profile.template)
  const plan = planCluster({ profile: o.profile, config: o.config, owner, members, live, nodes: view.nodes, savedPlacement: state?.placement })
  warnings.push(...plan.warnings)
  return { journal, owner, template, view, members, plan, warnings }
}

export function foreignConflicts(plan: ClusterPlan): string[] {
  return plan.vms.filter((v) => v.state === 'foreign').map((v) => `${v.desired.name}: ${v.note}`)
}

export interface VmJob {
  name: string
  run: (report: (message: string) => void) => Promise<void>
}

/**
 * The per-VM jobs that converge the cluster (empty when it already matches). Call only after
 * prepareCreate with persist, and after checking foreignConflicts.
 */
export function createJobs(o: EngineOptions, p: CreatePrepared): VmJob[] {
  const s = settings(o)
  const limiter = new ResourceLimiter({ perNode: o.config.limits.per_node, perStorage: o.config.limits.per_storage })
  const sharedIds = new Set(p.view.storages.filter((x) => x.shared).map((x) => x.storage))
  const todo = p.plan.vms.filter((v) => v.state !== 'match')
  p.journal.updateState((st) => {
    for (const v of todo) st.placement[v.desired.name] = v.desired.node
  })
  return todo.map((initial) => ({
    name: initial.desired.name,
    run: async (report) => {
      const ctx: ActionContext = {
        client: o.client,
        journal: p.journal,
        limiter,
        storage: o.config.defaults.storage,
        isShared: (id) => sharedIds.has(id),
        pollMs: s.pollMs,
        maxPollMs: s.maxPollMs,
        taskTimeoutMs: s.taskTimeoutMs,
        signal: o.signal,
        report: (_vm, message) => report(message),
      }
      await convergeVm(o, ctx, p, initial)
      p.journal.updateState((st) => {
        delete st.placement[initial.desired.name]
      })
    },
  }))
}

async function convergeVm(o: EngineOptions, ctx: ActionContext, p: CreatePrepared, initial: VmPlan): Promise<void> {
  const s = settings(o)
  const d: DesiredVm = initial.desired
  let plan = initial
  let cleanedVolumes = false
  for (let round = 1; ; round++) {
    if (plan.state === 'match') return
    if (plan.state === 'foreign') throw new ConflictError(`${d.name}: ${plan.note}`, 'the tool never touches a VM without its owner marker; free the VMID or change the profile')
    if (round > s.maxRounds) throw new ConflictError(`${d.name} did not converge after ${s.maxRounds} attempts (now: ${plan.state}${plan.note ? `, ${plan.note}` : ''})`)
    try {
      await step(ctx, p, plan, () => cleanedVolumes, () => (cleanedVolumes = true))
    } catch (err) {
      if (!isRetryable(err)) throw err
      ctx.report(d.name, `${(err as Error).message.split('\n')[0]}; checking the VM again`)
      await sleep(Math.min(s.retryBaseMs * 2 ** (round - 1), 30_000) * (0.75 + Math.random() * 0.5), o.signal)
    }
    plan = planVm(d, await readLiveVm(ctx.client, d.vmid), p.owner, o.config)
  }
}

async function step(ctx: ActionContext, p: CreatePrepared, plan: VmPlan, cleaned: () => boolean, markCleaned: () => void): Promise<void> {
  const d = plan.desired
  switch (plan.state) {
    case 'busy':
      ctx.report(d.name, `waiting: ${plan.note}`)
      await waitWhileLocked(ctx, d.vmid)
      return
    case 'missing': {
      // A clone of this VMID failed before: remove what it may have left on the storages.
      const clonedBefore = ctx.journal.entries().some((e) => e.op === 'clone' && e.vmid === d.vmid)
      if (clonedBefore && !cleaned()) {
        const view = await readClusterView(ctx.client)
        if (!view.vms.some((v) => v.vmid === d.vmid)) for (const v of await findVolumes(ctx.client, view, new Set([d.vmid]))) await deleteVolume(ctx, v)
        markCleaned()
      }
      await cloneVm(ctx, d, p.template)
      return
    }
    case 'broken':
      if (!plan.live || !isOwnedBy(plan.live.config?.description as string | undefined, p.owner)) throw new ConflictError(`${d.name}: refusing to remove a VM without the owner marker`)
      await destroyVm(ctx, d.name, plan.live)
      return
    case 'differ': {
      const vm = plan.live!
      const a = plan.actions
      if (a.migrateTo && vm.status !== 'running') {
        await migrateVm(ctx, d.name, vm, a.migrateTo)
        return
      }
      if (a.config) await configureVm(ctx, d.name, vm, a.config)
      if (a.resize) await resizeDisk(ctx, d.name, vm, a.resize.disk, a.resize.size)
      if (a.start) await startVm(ctx, d.name, vm)
      return
    }
    default:
      return
  }
}

/** Waits until the VM at `vmid` has no lock (or is gone), re-polling a journaled task if there is one. */
async function waitWhileLocked(ctx: ActionContext, vmid: number): Promise<void> {
  const pending = ctx.journal.pendingTasks().filter((e) => e.vmid === vmid)
  for (const e of pending) await waitForTask(ctx.client, e.upid!, { pollMs: ctx.pollMs, timeoutMs: ctx.taskTimeoutMs, signal: ctx.signal, quiet: true }).catch(() => undefined)
  const deadline = Date.now() + ctx.taskTimeoutMs
  let delay = ctx.pollMs
  for (;;) {
    const vm = (await readClusterView(ctx.client)).vms.find((v) => v.vmid === vmid)
    if (!vm?.lock) return
    if (Date.now() > deadline) throw new ConflictError(`VM ${vmid} is still locked (${vm.lock})`, `check the task working on it: task pve:tasks`)
    await sleep(delay, ctx.signal)
    delay = Math.min(delay * 1.5, 5000)
  }
}

// ---------------------------------------------------------------------------------------------
// Teardown

export interface TeardownPrepared {
  journal: ClusterJournal
  owner?: Owner
  plan: TeardownPlan
  /** Volumes of the cluster's VMIDs whose VM no longer exists. */
  volumes: Volume[]
  view: ClusterView
}

export async function prepareTeardown(o: EngineOptions, opts: { persist: boolean }): Promise<TeardownPrepared> {
  const journal = o.journal ?? new ClusterJournal(o.profile.name)
  if (opts.persist) await finishPendingTasks(o, journal)
  const state = journal.readState()
  const members = expandMembers(o.profile, o.config, { workers: o.workers })
  const profileVmids = members.map((m) => m.vmid!)
  const ours = new Set([...profileVmids, ...(state?.vmids ?? [])])
  let view = await readClusterView(o.client)
  // A clone or delete still running at one of our VMIDs would change the answer: let it finish.
  if (view.vms.some((v) => ours.has(v.vmid) && v.lock && opts.persist)) {
    const ctx = { client: o.client, journal, pollMs: settings(o).pollMs, taskTimeoutMs: settings(o).taskTimeoutMs, signal: o.signal } as ActionContext
    for (const v of view.vms.filter((x) => ours.has(x.vmid) && x.lock)) await waitWhileLocked(ctx, v.vmid)
    view = await readClusterView(o.client)
  }
  const live = await rereadUnreadable(o.client, await withConfigs(o.client, view.vms, { vmids: ours, tags: o.profile.tags }), ours, o.profile.tags)
  const missingPrivileges = await missingVisibility(o.client)
  const visibility = { expectedNodes: o.config.cluster.nodes.map((n) => n.name), nodes: view.nodes, missingPrivileges }
  let owner: Owner | undefined
  if (state) owner = { cluster: journal.cluster, clusterId: state.clusterId }
  else {
    const ids = new Set(live.map((v) => parseOwner(v.config?.description as string | undefined)).filter((x) => x?.cluster === journal.cluster).map((x) => x!.clusterId))
    if (ids.size > 1) throw new ConflictError(`VMs of cluster ${journal.cluster} carry ${ids.size} different owner ids and ${journal.dir}/state.json is missing`, 'remove the VMs of the instance you do not want by hand')
    if (ids.size === 1) owner = { cluster: journal.cluster, clusterId: [...ids][0] }
  }
  const plan = planTeardown({
    profile: o.profile,
    // Without any owner id nothing can carry our marker: every tagged VM is refused as foreign.
    owner: owner ?? { cluster: journal.cluster, clusterId: 'none' },
    profileSize: Math.max(members.length, ours.size),
    live,
    journalVmids: state?.vmids ?? [],
    profileVmids,
    visibility,
  })
  const existing = new Set(view.vms.map((v) => v.vmid))
  const volumes = plan.refusals.length ? [] : (await findVolumes(o.client, view, ours)).filter((v) => !existing.has(v.vmid))
  return { journal, owner, plan, volumes, view }
}

/**
 * VMs of concern whose config could not be read are looked up once more: one deleted between the
 * listing and the config read (a request of a killed run landing late) is simply gone; one still
 * unreadable stays without config, and the teardown rules refuse it.
 */
async function rereadUnreadable(client: PveClient, live: LiveVm[], ours: Set<number>, tags: string[]): Promise<LiveVm[]> {
  const out: LiveVm[] = []
  for (const vm of live) {
    const concerned = ours.has(vm.vmid) || tags.every((t) => vm.tags.includes(t))
    if (vm.config || !concerned) out.push(vm)
    else {
      const again = await readLiveVm(client, vm.vmid)
      if (again) out.push(again)
    }
  }
  return out
}

export function teardownJobs(o: EngineOptions, p: TeardownPrepared, opts: { shutdownTimeoutSeconds: number }): VmJob[] {
  if (p.plan.refusals.length) throw new RefusedError(`teardown of ${o.profile.name} refused:\n  ${p.plan.refusals.join('\n  ')}`, 'nothing was changed')
  const ctxFor = actionContextFor(o, p.journal, p.view)
  const volumeJobs: VmJob[] = p.volumes.map((v) => ({
    name: v.volid,
    run: async (report) => {
      const ctx = ctxFor(report)
      try {
        await deleteVolume(ctx, v)
      } catch (err) {
        if (!/does not exist|no such volume/i.test((err as Error).message)) throw err
      }
    },
  }))
  return [...destroyJobs(o, p.journal, p.view, p.plan.targets, p.owner!, opts), ...volumeJobs]
}

function actionContextFor(o: EngineOptions, journal: ClusterJournal, view: ClusterView): (report: (m: string) => void) => ActionContext {
  const s = settings(o)
  const limiter = new ResourceLimiter({ perNode: o.config.limits.per_node, perStorage: o.config.limits.per_storage })
  const sharedIds = new Set(view.storages.filter((x) => x.shared).map((x) => x.storage))
  return (report) => ({
    client: o.client,
    journal,
    limiter,
    storage: o.config.defaults.storage,
    isShared: (id) => sharedIds.has(id),
    pollMs: s.pollMs,
    maxPollMs: s.maxPollMs,
    taskTimeoutMs: s.taskTimeoutMs,
    signal: o.signal,
    report: (_vm, m) => report(m),
  })
}

/**
 * Shut down (gracefully, then hard) and delete each target, which must still carry `owner`'s
 * marker and its name from the plan when it is acted on (teardown, scale down, replace-node).
 */
export function destroyJobs(o: EngineOptions, journal: ClusterJournal, view: ClusterView, targets: LiveVm[], owner: Owner, opts: { shutdownTimeoutSeconds: number }): VmJob[] {
  const s = settings(o)
  const ctxFor = actionContextFor(o, journal, view)
  return targets.map((target) => ({
    name: target.name,
    run: async (report) => {
      const ctx = ctxFor(report)
      for (let round = 1; ; round++) {
        // Re-read right before acting: the VM may have moved, changed or gone since the plan.
        const vm = await readLiveVm(o.client, target.vmid)
        if (!vm) return
        if (vm.name !== target.name || !isOwnedBy(vm.config?.description as string | undefined, owner)) throw new ConflictError(`VM ${target.vmid} changed since the plan (now ${vm.name}, marker ${parseOwner(vm.config?.description as string | undefined)?.clusterId ?? 'none'}); not touching it`)
        if (vm.template || Number(vm.config?.protection ?? 0) === 1) throw new RefusedError(`VM ${target.vmid} became a template or protected since the plan; not touching it`)
        if (round > s.maxRounds) throw new ConflictError(`VM ${target.vmid} (${target.name}) is still there after ${s.maxRounds} attempts`)
        try {
          if (vm.lock) await waitWhileLocked(ctx, vm.vmid)
          else if (vm.status === 'running' || vm.status === 'paused') await powerOff(ctx, vm.name, vm, opts.shutdownTimeoutSeconds)
          else await destroyVm(ctx, vm.name, vm)
        } catch (err) {
          if (!isRetryable(err)) throw err
          report(`${(err as Error).message.split('\n')[0]}; checking the VM again`)
          await sleep(Math.min(s.retryBaseMs * 2 ** (round - 1), 30_000) * (0.75 + Math.random() * 0.5), o.signal)
        }
      }
    },
  }))
}

/** Positive proof that nothing of the cluster is left: no VM with its marker, no volume of its VMIDs. */
export async function verifyTornDown(o: EngineOptions, p: TeardownPrepared): Promise<string[]> {
  const view = await readClusterView(o.client)
  const state = p.journal.readState()
  const ours = new Set([...expandMembers(o.profile, o.config, { workers: o.workers }).map((m) => m.vmid!), ...(state?.vmids ?? []), ...p.plan.targets.map((t) => t.vmid)])
  const live = await withConfigs(o.client, view.vms, { vmids: ours, tags: o.profile.tags })
  const left: string[] = []
  for (const vm of live) {
    if (p.owner && isOwnedBy(vm.config?.description as string | undefined, p.owner)) left.push(`VM ${vm.vmid} (${vm.name}) on ${vm.node}`)
  }
  const existing = new Set(view.vms.map((v) => v.vmid))
  for (const v of await findVolumes(o.client, view, ours)) if (!existing.has(v.vmid)) left.push(`volume ${v.volid} on ${v.node}`)
  // Gone with the VMs: a cluster created again needs its Flux bootstrap again.
  if (!left.length && state) p.journal.updateState((st) => ((st.vmids = []), (st.placement = {}), delete st.flux))
  return left
}

/** Runs jobs concurrently (the limiter inside bounds the load) and collects failures. */
export async function runJobs(jobs: VmJob[], report: (job: string, message: string) => void): Promise<{ vm: string; error: unknown }[]> {
  const results = await Promise.allSettled(jobs.map((j) => j.run((m) => report(j.name, m))))
  return results.flatMap((r, i) => (r.status === 'rejected' ? [{ vm: jobs[i].name, error: r.reason }] : []))
}
