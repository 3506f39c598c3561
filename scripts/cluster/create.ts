// pve:cluster:create: validate → plan → clone → configure → start (per VM, in parallel under the
// per-node and per-storage limits) → wait until reachable → Talos and Flux stages. Resumable: run it again after any
// failure or interruption; on a complete cluster it changes nothing.
import { z } from 'zod'
import { dryRunOption, outputOption, runCommand } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { ConflictError } from '../lib/errors.ts'
import { info, warn } from '../lib/output.ts'
import { loadProfile } from '../lib/profile.ts'
import { createCluster } from '../lib/cluster/commands.ts'
import { foreignConflicts, prepareCreate } from '../lib/cluster/engine.ts'
import { planSummary, printPlan } from '../lib/cluster/views.ts'

await runCommand({
  name: 'pve:cluster:create',
  summary: 'Create (or finish, or bring back in line) the cluster a profile describes',
  details: `Every VM is a full clone of the profile's template carrying the cluster's tags and owner
marker, sized, addressed (cloud-init ipconfig0) and started. Then create waits (up to
--reach-timeout) until PVE reports every VM running and, where the guest agent is enabled, the agent
answering with the profile's address (Talos nodes: running only; the Talos stage waits for the
Talos API). Talos profiles then get the Talos and Flux stages. The journal in .state/<cluster>/ makes an interrupted run resumable: run the same
command again. --dry-run prints the plan (same as pve:cluster:plan). In the sandbox
(sandbox: true) the Talos and Flux stages run against the stand-ins named in tools.

Examples:
  task pve:cluster:create PROFILE=talos-staging
  task pve:cluster:create PROFILE=talos-staging -- --dry-run`,
  options: z.strictObject({
    profile: z.string().min(1).describe('profile name (clusters/<name>.yaml) or path'),
    dryRun: dryRunOption,
    vmsOnly: z.boolean().default(false).describe('stop once the VMs run, match the profile and are reachable (no Talos and Flux stages)'),
    reachTimeout: z.coerce.number().int().min(1).max(3600).default(300).describe('seconds to wait until every VM is reachable'),
    output: outputOption,
  }),
  run: async (opts, cli) => {
    const { config, client } = await openContext(cli)
    const profile = await loadProfile(opts.profile, config)
    if (opts.dryRun) {
      const prepared = await prepareCreate({ client, config, profile }, { persist: false })
      for (const w of prepared.warnings) warn(w)
      printPlan(prepared.plan, opts.output)
      info(`dry run, nothing changed: ${planSummary(prepared.plan)}`)
      const conflicts = foreignConflicts(prepared.plan)
      if (conflicts.length) throw new ConflictError(`the profile's VMIDs are taken:\n  ${conflicts.join('\n  ')}`)
      return
    }
    const result = await createCluster({ client, config, profile, vmsOnly: opts.vmsOnly, reachTimeoutSeconds: opts.reachTimeout })
    printPlan(result.plan, opts.output)
    const { talos, flux } = result.stages
    const simulated = config.sandbox ? ' (sandbox: simulated nodes through the talosctl/flux stand-ins)' : ''
    if (talos) info(`${profile.name}: Talos ${talos.bootstrapped === 'now' ? 'bootstrapped' : 'already bootstrapped, not again'}, healthy; kubeconfig ${talos.kubeconfig}${simulated}`)
    if (flux?.repo) info(`${profile.name}: Flux bootstrapped from ${flux.repo}${simulated}`)
  },
})
