// talos:config PROFILE=: machine configs for every node (secrets generated on first use).
import { z } from 'zod'
import { runCommand } from '../lib/cli.ts'
import { info } from '../lib/output.ts'
import { openTalosContext, factoryUrlFrom } from '../lib/talos/context.ts'
import { generateConfigs } from '../lib/talos/configs.ts'

await runCommand({
  name: 'talos:config',
  summary: 'Generate, patch and validate the Talos machine config of every node of a profile',
  details: [
    'gen config --with-secrets with the factory installer of the profile\'s schematic and version, then per node:',
    'hostname, static address, default route, nameservers and (control planes) the VIP, then the patches in',
    'talos.patches_dir: all/, controlplane/ or worker/, <node-name>/ (sorted by file name, later wins).',
    'Every file is checked with `talosctl validate -m cloud --strict` before it is written to talos.config_dir (0600).',
  ].join('\n'),
  options: z.strictObject({
    profile: z.string().describe('cluster profile (name in clusters/ or path)'),
    imageCache: z.boolean().optional().describe('machine.features.imageCache.localEnabled (default: on when talos:image-cache built the cache; --no-image-cache turns it off)'),
    factory: z.url().optional().describe('Image Factory URL for the installer image (default: factory.talos.dev)'),
  }),
  async run(opts, cli) {
    const { config, profile, talosctl } = await openTalosContext(cli, opts.profile)
    const r = await generateConfigs(profile, talosctl, { factoryUrl: factoryUrlFrom(opts.factory), nameservers: config.cloudinit.nameservers, imageCache: opts.imageCache, onProgress: info })
    for (const n of r.nodes) info(`  ${n.node.name} (${n.node.role}, ${n.node.ip}): ${n.file}${n.patches.length ? ` + ${n.patches.length} patch(es)` : ''}`)
  },
})
