// flux:bootstrap PROFILE=: `flux bootstrap git` with the profile's repository, path and branch,
// after a health check of the Talos cluster.
import { z } from 'zod'
import { runCommand } from '../lib/cli.ts'
import { info } from '../lib/output.ts'
import { openTalosContext } from '../lib/talos/context.ts'
import { fluxStage } from '../lib/talos/stage.ts'

await runCommand({
  name: 'flux:bootstrap',
  summary: 'Bootstrap Flux CD on a healthy Talos cluster from the profile\'s flux section',
  options: z.strictObject({
    profile: z.string().describe('cluster profile (name in clusters/ or path)'),
    privateKeyFile: z.string().optional().describe('SSH private key for the git repository (a file: keys never go on the command line)'),
  }),
  async run(opts, cli) {
    const { config, profile } = await openTalosContext(cli, opts.profile)
    const r = await fluxStage(profile, config, { onProgress: info, privateKeyFile: opts.privateKeyFile })
    info(r.skipped ? `skipped: ${r.skipped}` : `Flux bootstrapped from ${r.repo}`)
  },
})
