// The cluster operations as the commands run them (create, teardown, and the compound ones):
// listr2 pipelines around the engine, with the per-cluster lock held for the whole run.
import type { ListrTask } from 'listr2'
import { ConflictError, PmError } from '../errors.ts'
import { info, renderTable } from '../output.ts'
import { confirmTyped } from '../prompts.ts'
import type { LoadedProfile } from '../profile.ts'
import type { ClusterConfig } from '../config.ts'
import type { PveClient } from '../pve/client.ts'
import { ClusterJournal } from './journal.ts'
import {
  createJobs,
  foreignConflicts,
  prepareCreate,
  prepareTeardown,
  ResumableError,
  teardownJobs,
  verifyTornDown,
  type CreatePrepared,
  type EngineOptions,
  type TeardownPrepared,
} from './engine.ts'
import { jobsTask, runPipeline } from './pipeline.ts'
import { planSummary } from './views.ts'
import { planCluster, type ClusterPlan } from './plan.ts'
import { readClusterView, withConfigs } from './live.ts'
import { forgetSimulatedNodes, stageTasks, type StageResults } from './stages.ts'
import { reachTargets, waitUntilReachable } from './reachable.ts'

export interface ClusterRun {
  client: PveClient
  config: ClusterConfig
  profile: LoadedProfile
  workers?: number
  /** Stop once the VMs match and are reachable (no Talos and Flux stages). */
  vmsOnly?: boolean
  /** Deadline of the wait until every VM is reachable (default 300 s). */
  reachTimeoutSeconds?: number
}

export interface RunCtx {
  failures: { vm: string; error: unknown }[]
  create?: CreatePrepared
  teardown?: TeardownPrepared
  stages?: StageResults
}

const engine = (run: ClusterRun, journal: ClusterJournal): EngineOptions => ({ client: run.client, config: run.config, profile: run.profile, journal, workers: run.workers })

function withLock<T>(journal: ClusterJournal, body: () => Promise<T>): Promise<T> {
  const release = journal.lock()
  return body().finally(release)
}

/** The create pipeline's tasks (shared by create, rebuild, scale and replace-node). */
export function createTasks(run: ClusterRun, journal: ClusterJournal): ListrTask<RunCtx>[] {
  const o = engine(run, journal)
  return [
    {
      title: `Plan ${run.profile.name}`,
      task: async (ctx, task) => {
        ctx.failures = []
        ctx.create = await prepareCreate(o, { persist: true })
        for (const w of ctx.create.warnings) task.output = `warning: ${w}`
        const conflicts = foreignConflicts(ctx.create.plan)
        if (conflicts.length) throw new ConflictError(`the profile's VMIDs are taken:\n  ${conflicts.join('\n  ')}`, 'nothing was changed')
        task.title = `Plan ${run.profile.name}: ${planSummary(ctx.create.plan)}`
      },
    },
    jobsTask<RunCtx>('Clone, configure and start VMs', (ctx) => createJobs(o, ctx.create!)),
  ]
}

async function converged(run: ClusterRun, prepared: CreatePrepared): Promise<ClusterPlan> {
  const view = await readClusterView(run.client)
  const live = await withConfigs(run.client, view.vms, { vmids: new Set(prepared.members.map((m) => m.vmid!)), tags: run.profile.tags })
  return planCluster({ profile: run.profile, config: run.config, owner: prepared.owner, members: prepared.members, live, nodes: view.nodes })
}

/** create: converge the VMs, then the Talos and Flux stages; throws ResumableError when a VM did not finish. */
export async function createCluster(run: ClusterRun): Promise<{ plan: ClusterPlan; stages: StageResults }> {
  const journal = new ClusterJournal(run.profile.name)
  return withLock(journal, async () => {
    const ctx: RunCtx = { failures: [] }
    let plan: ClusterPlan | undefined
    await runPipeline<RunCtx>(
      [
        ...createTasks(run, journal),
        {
          title: 'Check that every VM matches the profile',
          task: async (c, task) => {
            if (c.failures.length) throw new ResumableError(`create ${run.profile.name}`, c.failures, journal.journalFile)
            plan = await converged(run, c.create!)
            const left = plan.vms.filter((v) => v.state !== 'match')
            if (left.length) throw new ResumableError(`create ${run.profile.name}`, left.map((v) => ({ vm: v.desired.name, error: new Error(`still ${v.state}`) })), journal.journalFile)
            task.title = `All ${plan.vms.length} VMs match the profile`
          },
        },
        {
          title: 'Wait until every VM is reachable (PVE: running, guest agent answering)',
          task: async (_c, task) => {
            task.title = await waitUntilReachable(reachTargets(plan!), {
              client: run.client,
              cluster: run.profile.name,
              talos: run.profile.type === 'talos',
              timeoutMs: (run.reachTimeoutSeconds ?? 300) * 1000,
              pollMs: Number(process.env.PM_TASK_POLL_MS) > 0 ? Number(process.env.PM_TASK_POLL_MS) : 1000,
              onProgress: (m) => (task.output = m),
            })
          },
        },
        ...(run.vmsOnly ? [] : stageTasks<RunCtx>(run.profile, run.config, journal)),
      ],
      ctx,
    ).catch((err) => {
      if (ctx.failures.length && !(err instanceof ResumableError)) throw new ResumableError(`create ${run.profile.name}`, ctx.failures, journal.journalFile)
      throw err
    })
    return { plan: plan!, stages: ctx.stages ?? {} }
  })
}

export interface TeardownOptions {
  dryRun: boolean
  yes: boolean
  shutdownTimeoutSeconds: number
  /** Asked already (rebuild asks once for both halves). */
  confirmed?: boolean
}

export function describeTeardown(p: TeardownPrepared): string {
  const rows = p.plan.targets.map((v) => ({ ...v, protection: v.config?.protection ? 'yes' : 'no' }))
  const vmTable = rows.length
    ? renderTable(rows, [
        { header: 'vmid', value: (v) => v.vmid, align: 'right' },
        { header: 'name', value: (v) => v.name },
        { header: 'node', value: (v) => v.node },
        { header: 'status', value: (v) => v.status },
        { header: 'tags', value: (v) => v.tags },
      ])
    : '(no VMs)'
  const volumes = p.volumes.length ? `\nleftover volumes (their VM no longer exists):\n${p.volumes.map((v) => `  ${v.volid} on ${v.node}`).join('\n')}` : ''
  return `${vmTable}${volumes}`
}

/** Reads and decides; prints what would be destroyed. Throws RefusedError for any safety refusal. */
export async function planTeardownRun(run: ClusterRun, journal: ClusterJournal, persist: boolean): Promise<TeardownPrepared> {
  const prepared = await prepareTeardown(engine(run, journal), { persist })
  if (prepared.plan.refusals.length) teardownJobs(engine(run, journal), prepared, { shutdownTimeoutSeconds: 0 }) // throws the refusal
  return prepared
}

const staticIp = (ipconfig: unknown): string | undefined => /(?:^|,)ip=(\d+\.\d+\.\d+\.\d+)\//.exec(String(ipconfig ?? ''))?.[1]

export async function teardownCluster(run: ClusterRun, opts: TeardownOptions): Promise<{ destroyed: number }> {
  const journal = new ClusterJournal(run.profile.name)
  const o = engine(run, journal)
  if (opts.dryRun) {
    const prepared = await planTeardownRun(run, journal, false)
    process.stdout.write(`${describeTeardown(prepared)}\n`)
    info(`dry run, nothing changed: teardown of ${run.profile.name} would destroy ${prepared.plan.targets.length} VM(s) and ${prepared.volumes.length} leftover volume(s)`)
    return { destroyed: 0 }
  }
  return withLock(journal, async () => {
    const prepared = await planTeardownRun(run, journal, true)
    const count = prepared.plan.targets.length
    if (!count && !prepared.volumes.length) {
      const left = await verifyTornDown(o, prepared)
      if (left.length) throw new PmError(`cluster ${run.profile.name}: still present: ${left.join(', ')}`, 4)
      info(`cluster ${run.profile.name} has no VMs (visibility checked: every node online, the token sees every VM)`)
      const forgotten = await forgetSimulatedNodes(run.profile, run.config, [])
      if (forgotten) info(forgotten)
      return { destroyed: 0 }
    }
    process.stdout.write(`${describeTeardown(prepared)}\n`)
    if (!opts.confirmed) {
      await confirmTyped(`Destroy cluster ${run.profile.name}: ${count} VM${count === 1 ? '' : 's'} and their disks${prepared.volumes.length ? `, plus ${prepared.volumes.length} leftover volume(s)` : ''}? This cannot be undone.`, run.profile.name, { yes: opts.yes })
    }
    const ctx: RunCtx = { failures: [], teardown: prepared }
    await runPipeline<RunCtx>(
      [
        jobsTask<RunCtx>(`Shut down and delete ${run.profile.name}`, () => teardownJobs(o, prepared, opts)),
        {
          title: 'Verify nothing remains',
          task: async (c, task) => {
            if (c.failures.length) throw new ResumableError(`teardown ${run.profile.name}`, c.failures, journal.journalFile)
            const left = await verifyTornDown(o, prepared)
            if (left.length) throw new ResumableError(`teardown ${run.profile.name}`, left.map((l) => ({ vm: l, error: new Error('still present') })), journal.journalFile)
            task.title = `Nothing of ${run.profile.name} remains`
          },
        },
        ...(run.config.sandbox && run.profile.type === 'talos'
          ? [
              {
                title: 'Sandbox: the simulated Talos nodes go with their VMs',
                task: async (_c: RunCtx, task: { title: string }) => {
                  task.title = (await forgetSimulatedNodes(run.profile, run.config, prepared.plan.targets.flatMap((v) => staticIp(v.config?.ipconfig0) ?? [])))!
                },
              },
            ]
          : []),
      ],
      ctx,
    ).catch((err) => {
      if (ctx.failures.length && !(err instanceof ResumableError)) throw new ResumableError(`teardown ${run.profile.name}`, ctx.failures, journal.journalFile)
      throw err
    })
    return { destroyed: count }
  })
}
