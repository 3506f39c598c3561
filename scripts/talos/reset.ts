// talos:reset PROFILE= NODE=: take one node out of a Talos cluster (graceful reset, etcd leave
// checked from a peer, remove-member for a dead control plane), confirmed.
import { z } from 'zod'
import { dryRunOption, runCommand, yesOption } from '../lib/cli.ts'
import { info } from '../lib/output.ts'
import { confirmDestructive } from '../lib/prompts.ts'
import { removeTalosNode } from '../lib/talos/remove.ts'
import { openTalosContext } from '../lib/talos/context.ts'

await runCommand({
  name: 'talos:reset',
  summary: 'Remove one node from a Talos cluster: graceful reset (cordon, drain, leave etcd), membership checked from a peer',
  details: [
    'Control planes: refused when etcd would lose quorum or its last member; a control plane that does not',
    'answer is removed from etcd by member ID from a healthy peer. The VM is not touched (pve:vm:delete).',
    'Examples:',
    '  task talos:reset PROFILE=lab NODE=lab-w02 -- --dry-run',
    '  task talos:reset PROFILE=lab NODE=lab-cp03 -- --yes --wipe all --no-reboot',
  ].join('\n'),
  options: z.strictObject({
    profile: z.string().describe('cluster profile (name in clusters/ or path)'),
    node: z.string().min(1).describe('node name or IP from the profile'),
    wipe: z.enum(['state', 'all']).default('state').describe('state: STATE+EPHEMERAL (reboots into maintenance mode); all: the whole system disk'),
    reboot: z.boolean().default(true).describe('reboot after the reset (--no-reboot powers the node off)'),
    timeout: z.coerce.number().int().min(1).default(10).describe('minutes the reset (drain included) may take'),
    dryRun: dryRunOption,
    yes: yesOption,
  }),
  async run(opts, cli) {
    const { config, profile } = await openTalosContext(cli, opts.profile)
    const r = await removeTalosNode(profile, config, opts.node, {
      wipe: opts.wipe,
      reboot: opts.reboot,
      resetTimeoutMs: opts.timeout * 60_000,
      dryRun: opts.dryRun,
      onProgress: info,
      confirm: (plan) => confirmDestructive(`Remove ${plan.node.name} (${plan.node.role}, ${plan.node.ip}) from cluster ${profile.name}:\n${plan.steps.map((s) => `  - ${s}`).join('\n')}\nContinue?`, { yes: opts.yes }),
    })
    if (r.alreadyRemoved) return info(`${r.node.name} is not part of cluster ${profile.name} (${r.api}${r.node.role === 'controlplane' ? ', no etcd member' : ''}): nothing to do`)
    if (opts.dryRun) return info(`would remove ${r.node.name} from ${profile.name}:\n${r.steps.map((s) => `  - ${s}`).join('\n')}`)
    info(`${r.node.name} removed from ${profile.name}: ${r.done.join(', ') || 'nothing to reset (unreachable worker)'}; delete its Kubernetes node object with kubectl delete node ${r.node.name}`)
  },
})
