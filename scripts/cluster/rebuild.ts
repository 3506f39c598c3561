// pve:cluster:rebuild: teardown and create in one go, after one confirmation.
import { z } from 'zod'
import { dryRunOption, outputOption, runCommand, yesOption } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { loadProfile } from '../lib/profile.ts'
import { rebuildCluster } from '../lib/cluster/lifecycle.ts'
import { printPlan } from '../lib/cluster/views.ts'

await runCommand({
  name: 'pve:cluster:rebuild',
  summary: 'Destroy every VM of a cluster and create it again from its profile (one confirmation)',
  details: `Shows what will be destroyed (the same checks and refusals as pve:cluster:teardown), asks
once (type the cluster name; without a terminal --yes is required), tears the cluster down, then
runs create with its Talos and Flux stages. Interrupted? Run it again, or finish with create.

Examples:
  task pve:cluster:rebuild PROFILE=talos-staging
  task pve:cluster:rebuild PROFILE=talos-staging -- --dry-run`,
  options: z.strictObject({
    profile: z.string().min(1).describe('profile name (clusters/<name>.yaml) or path'),
    dryRun: dryRunOption,
    yes: yesOption,
    shutdownTimeout: z.coerce.number().int().min(1).max(3600).default(60).describe('seconds to wait for a graceful shutdown before stopping'),
    output: outputOption,
  }),
  run: async (opts, cli) => {
    const { config, client } = await openContext(cli)
    const profile = await loadProfile(opts.profile, config)
    const result = await rebuildCluster({ client, config, profile }, { dryRun: opts.dryRun, yes: opts.yes, shutdownTimeoutSeconds: opts.shutdownTimeout })
    if (result) printPlan(result.plan, opts.output)
  },
})
