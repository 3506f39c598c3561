// pve:cluster:plan: what create would do against the live cluster. Read-only.
import { z } from 'zod'
import { outputOption, runCommand } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { EXIT } from '../lib/errors.ts'
import { info, warn } from '../lib/output.ts'
import { loadProfile } from '../lib/profile.ts'
import { foreignConflicts, prepareCreate } from '../lib/cluster/engine.ts'
import { planSummary, printPlan } from '../lib/cluster/views.ts'

await runCommand({
  name: 'pve:cluster:plan',
  summary: 'Show what create would do: VMIDs, names, nodes, sizing, addresses; what exists, differs or is missing',
  details: 'Sends no request that changes anything. Exit code 6 when a VMID of the profile is taken by a VM this cluster does not own.',
  options: z.strictObject({
    profile: z.string().min(1).describe('profile name (clusters/<name>.yaml) or path'),
    workers: z.coerce.number().int().min(0).optional().describe('plan with this many workers instead of the profile\'s count'),
    output: outputOption,
  }),
  run: async (opts, cli) => {
    const { config, client } = await openContext(cli)
    const profile = await loadProfile(opts.profile, config)
    const prepared = await prepareCreate({ client, config, profile, workers: opts.workers }, { persist: false })
    for (const w of prepared.warnings) warn(w)
    printPlan(prepared.plan, opts.output)
    info(`${profile.name}: ${planSummary(prepared.plan)} (template ${prepared.template.vmid} on ${prepared.template.node})`)
    if (prepared.plan.extra.length) warn(`VMs of this cluster the profile no longer describes: ${prepared.plan.extra.map((v) => `${v.vmid} (${v.name})`).join(', ')} (task pve:cluster:scale)`)
    return foreignConflicts(prepared.plan).length ? EXIT.conflict : EXIT.ok
  },
})
