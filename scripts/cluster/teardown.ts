// pve:cluster:teardown: destroy exactly the VMs of a cluster (every profile tag AND the owner
// marker), after showing them and asking. Refuses on any doubt; resumable like create.
import { z } from 'zod'
import { dryRunOption, runCommand, yesOption } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { loadProfile } from '../lib/profile.ts'
import { teardownCluster } from '../lib/cluster/commands.ts'

await runCommand({
  name: 'pve:cluster:teardown',
  summary: 'Shut down and delete every VM of a cluster, and verify nothing remains',
  details: `Prints exactly what will be destroyed and asks you to type the cluster name (without a
terminal, --yes is required). Refuses when a node is offline or the token cannot see every VM,
when more VMs match than the profile describes, and for templates, protected VMs and tagged VMs
without the cluster's owner marker. Running VMs get an ACPI shutdown (--shutdown-timeout), then a
hard stop; deletion purges them from backup jobs, replication and HA and removes their disks.

Examples:
  task pve:cluster:teardown PROFILE=talos-staging
  task pve:cluster:teardown PROFILE=talos-staging -- --dry-run`,
  options: z.strictObject({
    profile: z.string().min(1).describe('profile name (clusters/<name>.yaml) or path'),
    dryRun: dryRunOption,
    yes: yesOption,
    shutdownTimeout: z.coerce.number().int().min(1).max(3600).default(60).describe('seconds to wait for a graceful shutdown before stopping'),
  }),
  run: async (opts, cli) => {
    const { config, client } = await openContext(cli)
    const profile = await loadProfile(opts.profile, config)
    await teardownCluster({ client, config, profile }, { dryRun: opts.dryRun, yes: opts.yes, shutdownTimeoutSeconds: opts.shutdownTimeout })
  },
})
