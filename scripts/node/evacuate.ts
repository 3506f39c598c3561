#!/usr/bin/env node
// pve:node:evacuate: plan where every guest of a node goes; print it, save it, or apply it.
import { z } from 'zod'
import { runCommand, dryRunOption, outputOption, yesOption } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { ConflictError, EXIT } from '../lib/errors.ts'
import { info, warn } from '../lib/output.ts'
import { confirmDestructive } from '../lib/prompts.ts'
import { gatherPlanInput } from '../lib/node/inventory.ts'
import { applyEvacuation } from '../lib/node/maintenance.ts'
import { DEFAULT_POLICY, planEvacuation } from '../lib/node/placement.ts'
import { journalPath, newJournal, PlanSchema, readJournal, writePlan } from '../lib/node/plan.ts'
import { printPlan, reportEvent } from '../lib/node/present.ts'
import { sshTarget } from '../lib/node/ssh.ts'

await runCommand({
  name: 'pve:node:evacuate',
  summary: 'Plan the evacuation of a node (each guest → the target with most room); print, save or apply it',
  details: `Targets are chosen by free memory (above --mem-reserve) and vCPU overcommit (--cpu-factor),
largest guests first; the evacuated node is never a target. Running guests move live, stopped ones
offline; local disks travel (with-local-disks, or --target-storage when the target lacks the storage).
HA-managed guests are left to PVE's HA node maintenance. Guests that fit nowhere are BLOCKED.
  task pve:node:evacuate NODE=pve01 -- --dry-run          # print the plan
  task pve:node:evacuate NODE=pve01 -- --plan-file p.yaml # save it for review, then pve:node:apply
  task pve:node:evacuate NODE=pve01 -- --yes              # plan and apply now`,
  options: z.strictObject({
    node: z.string().min(1).describe('node to evacuate'),
    planFile: z.string().min(1).optional().describe('save the plan here (.yaml or .json) instead of applying it'),
    memReserve: z.coerce.number().min(0).max(0.9).default(DEFAULT_POLICY.memReserve).describe('fraction of each target memory kept free'),
    cpuFactor: z.coerce.number().positive().default(DEFAULT_POLICY.cpuFactor).describe('vCPU overcommit allowed on targets'),
    strategy: z.enum(['spread', 'first-fit']).default('spread').describe('target choice'),
    targetStorage: z.string().min(1).optional().describe('storage for local disks where the source storage is missing'),
    parallel: z.coerce.number().int().min(1).max(32).optional().describe('migrations at once when applying (default: limits.per_node)'),
    dryRun: dryRunOption,
    yes: yesOption,
    output: outputOption,
  }),
  async run(opts, cli) {
    const { config, client } = await openContext(cli)
    const policy = { memReserve: opts.memReserve, cpuFactor: opts.cpuFactor, strategy: opts.strategy, targetStorage: opts.targetStorage }
    const plan = planEvacuation(await gatherPlanInput(client, opts.node, policy, config.defaults.storage))
    printPlan(opts.output, plan)
    const incomplete = plan.blocked.length > 0
    if (incomplete) warn(`${plan.blocked.length} guest(s) cannot be placed: the node would not be empty`)
    if (opts.planFile) {
      await writePlan(opts.planFile, plan)
      info(`plan saved to ${opts.planFile}; apply it with: task pve:node:apply PLAN=${opts.planFile}`)
      return incomplete ? EXIT.refused : EXIT.ok
    }
    if (opts.dryRun) return incomplete ? EXIT.refused : EXIT.ok
    if (incomplete) {
      warn('nothing was migrated: resolve the blocked guests, or save the plan (--plan-file) and apply it with --partial')
      return EXIT.refused
    }
    if (!plan.moves.length && !plan.ha.guests.length) {
      info(`${opts.node} holds no guest to move`)
      return
    }
    await confirmDestructive(`Migrate ${plan.moves.length} guest(s) off ${opts.node}${plan.ha.guests.length ? ` and put it in HA maintenance (${plan.ha.guests.length} HA guest(s))` : ''}?`, { yes: opts.yes })
    const path = journalPath(config.cluster.name, opts.node)
    const planPath = path.replace(/\.json$/, '.plan.yaml')
    // before writing anything: the plan file of an evacuation not yet returned is still needed
    const previous = await readJournal(path)
    if (previous && Object.values(previous.steps).some((s) => s.status === 'done'))
      throw new ConflictError(`an earlier evacuation of ${opts.node} has not been returned`, `return it first: task pve:node:return NODE=${opts.node}`)
    await writePlan(planPath, plan)
    const journal = newJournal(PlanSchema.parse(plan), planPath)
    const result = await applyEvacuation(client, journal, {
      parallel: opts.parallel ?? config.limits.per_node,
      memReserve: opts.memReserve,
      defaultStorage: config.defaults.storage,
      journalPath: path,
      ssh: () => sshTarget(config, config.cluster.nodes.find((n) => n.name !== opts.node)?.name),
      onEvent: reportEvent,
      onInfo: info,
    })
    if (result.failed.length) {
      warn(`stopped after a failure; ${result.notStarted.length} not started. Fix it, then resume with: task pve:node:apply PLAN=${planPath}`)
      return EXIT.taskFailed
    }
    info(`${opts.node} is evacuated (${result.done.length} moved). Bring the guests back later with: task pve:node:return NODE=${opts.node}`)
  },
})
