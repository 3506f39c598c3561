// talos:bootstrap PROFILE=: configs, apply to maintenance-mode nodes, etcd bootstrap exactly once,
// kubeconfig, health. Safe to re-run: done steps are recognised and skipped.
import { z } from 'zod'
import { runCommand } from '../lib/cli.ts'
import { info } from '../lib/output.ts'
import { openTalosContext, factoryUrlFrom } from '../lib/talos/context.ts'
import { talosStage } from '../lib/talos/stage.ts'

await runCommand({
  name: 'talos:bootstrap',
  summary: 'Bring a profile\'s VMs to a healthy Talos cluster (apply configs, bootstrap etcd once, kubeconfig, health)',
  options: z.strictObject({
    profile: z.string().describe('cluster profile (name in clusters/ or path)'),
    imageCache: z.boolean().optional().describe('configs enable the local image cache (default: on when talos:image-cache built the cache; --no-image-cache turns it off)'),
    factory: z.url().optional().describe('Image Factory URL for the installer image'),
    timeout: z.coerce.number().int().min(1).default(15).describe('minutes to wait for nodes and health'),
  }),
  async run(opts, cli) {
    const { config, profile } = await openTalosContext(cli, opts.profile)
    const ms = opts.timeout * 60_000
    const r = await talosStage(profile, config, { onProgress: info, factoryUrl: factoryUrlFrom(opts.factory), imageCache: opts.imageCache, timing: { nodeWaitMs: ms, healthMs: ms } })
    info(`${profile.name}: ${r.bootstrapped === 'now' ? 'bootstrapped' : 'already bootstrapped'}; configs applied to ${r.applied.length ? r.applied.join(', ') : 'no node (all configured)'}; kubeconfig ${r.kubeconfig}`)
  },
})
