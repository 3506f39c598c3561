// talos:upgrade-k8s PROFILE= VERSION=: `talosctl upgrade-k8s`, always planned with --dry-run first.
import { z } from 'zod'
import { dryRunOption, runCommand, yesOption } from '../lib/cli.ts'
import { info } from '../lib/output.ts'
import { confirmDestructive } from '../lib/prompts.ts'
import { openTalosContext } from '../lib/talos/context.ts'
import { talosNodes } from '../lib/talos/configs.ts'
import { upgradeKubernetes } from '../lib/talos/upgrade.ts'
import { UsageError } from '../lib/errors.ts'
import { existsSync } from 'node:fs'

await runCommand({
  name: 'talos:upgrade-k8s',
  summary: 'Upgrade Kubernetes on a Talos cluster: talosctl upgrade-k8s --dry-run, its plan shown, then the upgrade (confirmed)',
  options: z.strictObject({
    profile: z.string().describe('cluster profile (name in clusters/ or path)'),
    version: z.string().optional().describe('target Kubernetes version, e.g. 1.35.2 (default: the profile\'s talos.kubernetes_version)'),
    timeout: z.coerce.number().int().min(1).default(60).describe('minutes the upgrade may take'),
    dryRun: dryRunOption,
    yes: yesOption,
  }),
  async run(opts, cli) {
    const { profile, paths, talosctl } = await openTalosContext(cli, opts.profile)
    if (!existsSync(paths.talosconfig)) throw new UsageError(`no talosconfig at ${paths.talosconfig}`, `generate it with task talos:config PROFILE=${profile.name}`)
    const to = opts.version ?? profile.talos!.kubernetes_version
    const controlPlanes = talosNodes(profile).filter((n) => n.role === 'controlplane')
    const r = await upgradeKubernetes(talosctl.withTalosconfig(paths.talosconfig), controlPlanes, to, {
      dryRun: opts.dryRun,
      timeoutMs: opts.timeout * 60_000,
      onProgress: info,
      confirm: (plan) => confirmDestructive(`${plan}\nUpgrade Kubernetes of ${profile.name} to ${to} (control plane components restart, kubelets too)?`, { yes: opts.yes }),
    })
    if (!r.applied) {
      process.stdout.write(r.plan + '\n')
      return
    }
    info(`${profile.name}: Kubernetes upgraded to ${to}`)
    if (profile.talos!.kubernetes_version !== to) info(`set talos.kubernetes_version: "${to}" in ${profile.file} so new configs match`)
  },
})
