// talos:upgrade PROFILE= VERSION=: rolling Talos upgrade, one node at a time, control planes first,
// gates (version, etcd membership, health) before and after every node.
import { z } from 'zod'
import { dryRunOption, outputOption, runCommand, yesOption } from '../lib/cli.ts'
import { info, printOutput } from '../lib/output.ts'
import { confirmDestructive } from '../lib/prompts.ts'
import { openTalosContext, factoryUrlFrom } from '../lib/talos/context.ts'
import { talosNodes } from '../lib/talos/configs.ts'
import { planUpgrade, rollingUpgrade, type UpgradePlan, type UpgradeStep } from '../lib/talos/upgrade.ts'
import { UsageError } from '../lib/errors.ts'
import { existsSync } from 'node:fs'

const columns = [
  { header: 'node', value: (s: UpgradeStep) => s.node.name },
  { header: 'role', value: (s: UpgradeStep) => s.node.role },
  { header: 'ip', value: (s: UpgradeStep) => s.node.ip },
  { header: 'running', value: (s: UpgradeStep) => s.version },
  { header: 'schematic', value: (s: UpgradeStep) => s.schematic?.slice(0, 12) },
  { header: 'action', value: (s: UpgradeStep) => s.action },
  { header: 'reason', value: (s: UpgradeStep) => s.reason },
]

const planText = (plan: UpgradePlan) =>
  `Upgrade to ${plan.target} with ${plan.installer}, one node at a time (each node drains and reboots):\n` +
  plan.steps.filter((s) => s.action === 'upgrade').map((s, i) => `  ${i + 1}. ${s.node.name} (${s.node.role}, ${s.node.ip}): ${s.reason}`).join('\n')

await runCommand({
  name: 'talos:upgrade',
  summary: 'Rolling Talos upgrade to VERSION with the profile\'s factory installer: control planes first, one node at a time, gated',
  details: [
    'Before any node: every node\'s version path is checked (next minor at most, no downgrade) and the cluster must be',
    'healthy. After each node: it runs the target version and schematic, every control plane is an etcd member, and',
    '`talosctl health` passes; the first failed gate stops the rollout. Nodes already at the target are skipped, so a',
    're-run continues where it stopped. --dry-run prints the plan (table, or --output json|yaml).',
    'Afterwards set talos.version in the profile so new configs and nodes use the same installer.',
  ].join('\n'),
  options: z.strictObject({
    profile: z.string().describe('cluster profile (name in clusters/ or path)'),
    version: z.string().optional().describe('target Talos release, e.g. v1.13.2 (default: the profile\'s talos.version)'),
    factory: z.url().optional().describe('Image Factory URL for the installer image'),
    timeout: z.coerce.number().int().min(1).default(20).describe('minutes one node may take (pull, drain, reboot) and health may wait'),
    dryRun: dryRunOption,
    yes: yesOption,
    output: outputOption,
  }),
  async run(opts, cli) {
    const { config, profile, paths, talosctl } = await openTalosContext(cli, opts.profile)
    if (!existsSync(paths.talosconfig)) throw new UsageError(`no talosconfig at ${paths.talosconfig}`, `generate it with task talos:config PROFILE=${profile.name}`)
    const tc = talosctl.withTalosconfig(paths.talosconfig)
    const nodes = talosNodes(profile)
    const version = opts.version ?? profile.talos!.version
    const factoryUrl = factoryUrlFrom(opts.factory)
    if (opts.dryRun) {
      const plan = await planUpgrade(profile, nodes, tc, version, { factoryUrl })
      printOutput(opts.output, plan, plan.steps, columns)
      return
    }
    const ms = opts.timeout * 60_000
    const r = await rollingUpgrade(profile, nodes, tc, version, {
      sandbox: config.sandbox,
      factoryUrl,
      nodeTimeoutMs: ms,
      timing: { healthMs: ms },
      onProgress: info,
      confirm: (plan) => confirmDestructive(`${planText(plan)}\nContinue?`, { yes: opts.yes }),
    })
    if (!r.upgraded.length) return info(`every node of ${profile.name} already runs ${r.plan.target}${r.plan.schematic ? ` with schematic ${r.plan.schematic.slice(0, 12)}` : ''}: nothing to do`)
    info(`${profile.name}: upgraded ${r.upgraded.join(', ')} to ${r.plan.target}${r.skipped.length ? `; skipped ${r.skipped.join(', ')} (already there)` : ''}`)
    if (profile.talos!.version !== r.plan.target) info(`set talos.version: "${r.plan.target}" in ${profile.file} so configs and new nodes use the same installer`)
  },
})
