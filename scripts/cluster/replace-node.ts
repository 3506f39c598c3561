// pve:cluster:replace-node: a node of the cluster made new: reset (Talos), destroyed, created again.
import { z } from 'zod'
import { dryRunOption, outputOption, runCommand, yesOption } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { loadProfile } from '../lib/profile.ts'
import { replaceNode } from '../lib/cluster/lifecycle.ts'
import { printPlan } from '../lib/cluster/views.ts'

await runCommand({
  name: 'pve:cluster:replace-node',
  summary: 'Replace one node of a cluster: reset it the Talos way, destroy its VM, create it again',
  details: `For a broken or drifted node. Talos nodes are first reset gracefully (cordon, drain, a
control plane leaves etcd); then the VM (it must carry the cluster's owner marker) is shut down and
deleted with its disks, and create clones it again with the same VMID, name and address; the Talos
stage applies its config and it joins (etcd is not bootstrapped again). Refused for the only
control plane. Asks for confirmation (without a terminal --yes is required).

Examples:
  task pve:cluster:replace-node PROFILE=talos-staging NAME=k0s02
  task pve:cluster:replace-node PROFILE=talos-staging NAME=k0s02 -- --dry-run`,
  options: z.strictObject({
    profile: z.string().min(1).describe('profile name (clusters/<name>.yaml) or path'),
    name: z.string().min(1).describe('the node (VM name) to replace'),
    dryRun: dryRunOption,
    yes: yesOption,
    shutdownTimeout: z.coerce.number().int().min(1).max(3600).default(60).describe('seconds to wait for a graceful shutdown before stopping'),
    output: outputOption,
  }),
  run: async (opts, cli) => {
    const { config, client } = await openContext(cli)
    const profile = await loadProfile(opts.profile, config)
    const result = await replaceNode({ client, config, profile }, opts.name, { dryRun: opts.dryRun, yes: opts.yes, shutdownTimeoutSeconds: opts.shutdownTimeout })
    if (result) printPlan(result.plan, opts.output)
  },
})
