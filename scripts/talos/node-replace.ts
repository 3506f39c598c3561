// talos:node:replace PROFILE= NODE=: etcd snapshot (control planes), the old node leaves the cluster,
// the machine at its address gets its config, membership and health checked. Confirmed.
import { z } from 'zod'
import { dryRunOption, runCommand, yesOption } from '../lib/cli.ts'
import { info } from '../lib/output.ts'
import { confirmDestructive } from '../lib/prompts.ts'
import { openTalosContext } from '../lib/talos/context.ts'
import { replaceTalosNode } from '../lib/talos/replace.ts'

await runCommand({
  name: 'talos:node:replace',
  summary: 'Replace one Talos node in place: etcd snapshot, graceful reset (or remove-member if dead), config applied to the machine at its address, membership and health checked',
  details: [
    'The node keeps its name, address and config. A live node is reset and reboots into maintenance mode (reinstall in place);',
    'for a dead one, its etcd member is removed and the command waits (--timeout) for a new machine in maintenance mode at',
    'the address, e.g. a VM recreated with the same IP. pve:cluster:replace-node does the VM part around the same library calls.',
  ].join('\n'),
  options: z.strictObject({
    profile: z.string().describe('cluster profile (name in clusters/ or path)'),
    node: z.string().min(1).describe('node name or IP from the profile'),
    backup: z.boolean().default(true).describe('etcd snapshot before a control plane is removed (--no-backup skips it)'),
    timeout: z.coerce.number().int().min(1).default(15).describe('minutes to wait for the machine and cluster health'),
    dryRun: dryRunOption,
    yes: yesOption,
  }),
  async run(opts, cli) {
    const { config, profile } = await openTalosContext(cli, opts.profile)
    const ms = opts.timeout * 60_000
    const { plan, result } = await replaceTalosNode(profile, config, opts.node, {
      backup: opts.backup,
      dryRun: opts.dryRun,
      timing: { nodeWaitMs: ms, healthMs: ms },
      onProgress: info,
      confirm: (p) => confirmDestructive(`Replace ${p.removal.node.name} (${p.removal.node.role}, ${p.removal.node.ip}) in ${profile.name}:\n${p.steps.map((s) => `  - ${s}`).join('\n')}\nContinue?`, { yes: opts.yes }),
    })
    if (!result) return info(`would replace ${plan.removal.node.name}:\n${plan.steps.map((s) => `  - ${s}`).join('\n')}`)
    info(`${plan.removal.node.name} replaced in ${profile.name}${result.backup ? ` (snapshot ${result.backup.file})` : ''}: ${[...result.removed, result.joined.applied ? 'config applied' : 'already configured'].join(', ')}; cluster healthy`)
  },
})
