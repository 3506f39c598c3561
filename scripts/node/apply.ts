#!/usr/bin/env node
// pve:node:apply: execute a saved evacuation plan; re-running it resumes.
import { z } from 'zod'
import { runCommand, dryRunOption, yesOption } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { EXIT, RefusedError } from '../lib/errors.ts'
import { info, warn } from '../lib/output.ts'
import { confirmDestructive } from '../lib/prompts.ts'
import { applyEvacuation, assertPlanCurrent } from '../lib/node/maintenance.ts'
import { journalPath, readJournal, readPlan } from '../lib/node/plan.ts'
import { printPlan, reportEvent } from '../lib/node/present.ts'
import { journalFor } from '../lib/node/resume.ts'
import { sshTarget } from '../lib/node/ssh.ts'

await runCommand({
  name: 'pve:node:apply',
  summary: 'Apply an evacuation plan with bounded parallelism; stops at the first failure; re-run to resume',
  details: `Each guest's origin is recorded (under $PM_STATE_DIR, default .state/), so
task pve:node:return NODE=<node> brings everything back after maintenance.
  task pve:node:apply PLAN=pve01-plan.yaml -- --yes`,
  options: z.strictObject({
    plan: z.string().min(1).describe('plan file written by pve:node:evacuate --plan-file'),
    parallel: z.coerce.number().int().min(1).max(32).optional().describe('migrations at once (default: limits.per_node)'),
    bwlimit: z.coerce.number().int().min(0).optional().describe('bandwidth limit per migration in KiB/s'),
    partial: z.boolean().default(false).describe('apply a plan that has blocked guests (the node will not be empty)'),
    dryRun: dryRunOption,
    yes: yesOption,
  }),
  async run(opts, cli) {
    const plan = await readPlan(opts.plan)
    const { config, client } = await openContext(cli)
    if (plan.blocked.length && !opts.partial)
      throw new RefusedError(`the plan leaves ${plan.blocked.length} blocked guest(s) on ${plan.node}`, 'resolve them and plan again, or pass --partial')
    await assertPlanCurrent(client, plan)
    const path = journalPath(config.cluster.name, plan.node)
    const { journal, resumed } = journalFor(plan, opts.plan, await readJournal(path))
    const remaining = journal.moves.filter((m) => journal.steps[String(m.vmid)]?.status !== 'done')
    printPlan('table', { ...plan, moves: remaining })
    if (opts.dryRun) return
    if (resumed) info(`resuming: ${journal.moves.length - remaining.length} of ${journal.moves.length} moves already done`)
    await confirmDestructive(`Migrate ${remaining.length} guest(s) off ${plan.node}?`, { yes: opts.yes })
    const result = await applyEvacuation(client, journal, {
      parallel: opts.parallel ?? config.limits.per_node,
      memReserve: plan.policy.memReserve,
      defaultStorage: config.defaults.storage,
      bwlimit: opts.bwlimit,
      journalPath: path,
      ssh: () => sshTarget(config, config.cluster.nodes.find((n) => n.name !== plan.node)?.name),
      onEvent: reportEvent,
      onInfo: info,
    })
    if (result.failed.length) {
      warn(`stopped after a failure (${result.notStarted.length} not started); fix it and run the same command again to resume`)
      return EXIT.taskFailed
    }
    info(`${plan.node} is evacuated. Bring the guests back later with: task pve:node:return NODE=${plan.node}`)
  },
})
