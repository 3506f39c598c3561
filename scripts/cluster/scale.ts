// pve:cluster:scale: set the number of workers. New workers are created (and join through the
// Talos stage); removed ones are reset the Talos way, then shut down and deleted.
import { z } from 'zod'
import { dryRunOption, outputOption, runCommand, yesOption } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { loadProfile } from '../lib/profile.ts'
import { scaleCluster } from '../lib/cluster/lifecycle.ts'
import { printPlan } from '../lib/cluster/views.ts'

await runCommand({
  name: 'pve:cluster:scale',
  summary: "Set a cluster's worker count: add workers, or remove the highest-numbered ones",
  details: `The profile is the inventory: scale writes the new nodes.workers.count into it (comments
kept), then converges like create. Workers beyond the new count are removed: on Talos first
talosctl reset --graceful (cordon, drain, wipe), then shutdown and delete; that asks for
confirmation (without a terminal --yes is required). Talos workers need assignments with their ip
for every worker up to the new count.

Examples:
  task pve:cluster:scale PROFILE=docker-lab WORKERS=4
  task pve:cluster:scale PROFILE=docker-lab WORKERS=1 -- --dry-run`,
  options: z.strictObject({
    profile: z.string().min(1).describe('profile name (clusters/<name>.yaml) or path'),
    workers: z.coerce.number().int().min(0).max(100).describe('the new number of workers'),
    dryRun: dryRunOption,
    yes: yesOption,
    shutdownTimeout: z.coerce.number().int().min(1).max(3600).default(60).describe('seconds to wait for a graceful shutdown of a removed worker before stopping'),
    output: outputOption,
  }),
  run: async (opts, cli) => {
    const { config, client } = await openContext(cli)
    const profile = await loadProfile(opts.profile, config)
    const result = await scaleCluster({ client, config, profile }, opts.workers, { dryRun: opts.dryRun, yes: opts.yes, shutdownTimeoutSeconds: opts.shutdownTimeout })
    if (result) printPlan(result.plan, opts.output)
  },
})
