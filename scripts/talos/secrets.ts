// talos:secrets PROFILE=: generate the cluster's secrets bundle once (never regenerated).
import { z } from 'zod'
import { runCommand } from '../lib/cli.ts'
import { info } from '../lib/output.ts'
import { openTalosContext } from '../lib/talos/context.ts'
import { ensureSecrets } from '../lib/talos/secrets.ts'
import { exactTalosVersion } from '../lib/talos/versions.ts'

await runCommand({
  name: 'talos:secrets',
  summary: 'Generate the Talos secrets bundle of a cluster (once: refused when it exists or the cluster was bootstrapped)',
  details: 'Written to talos.config_dir/talos.secrets_file with mode 0600 in a 0700 directory; refused inside the git repository unless git-ignored. A *.sops.yaml file is SOPS-encrypted (needs sops and its keys).',
  options: z.strictObject({
    profile: z.string().describe('cluster profile (name in clusters/ or path)'),
  }),
  async run(opts, cli) {
    const { profile, paths, talosctl } = await openTalosContext(cli, opts.profile)
    const r = await ensureSecrets(paths, talosctl, { talosVersion: exactTalosVersion(profile), regenerate: true })
    info(`secrets for ${profile.name} written to ${r.path}${r.encrypted ? ' (SOPS-encrypted)' : ' (mode 0600, keep a backup)'}`)
  },
})
