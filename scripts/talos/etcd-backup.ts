// talos:etcd:backup PROFILE=: an etcd snapshot to a timestamped file, older ones pruned (retention).
import { z } from 'zod'
import { resolve } from 'node:path'
import { existsSync } from 'node:fs'
import { runCommand } from '../lib/cli.ts'
import { info, formatBytes } from '../lib/output.ts'
import { UsageError } from '../lib/errors.ts'
import { openTalosContext } from '../lib/talos/context.ts'
import { talosNodes } from '../lib/talos/configs.ts'
import { backupEtcd } from '../lib/talos/etcd-backup.ts'

await runCommand({
  name: 'talos:etcd:backup',
  summary: 'Snapshot etcd of a Talos cluster to <config_dir>/backups/<cluster>-etcd-<UTC time>.snapshot, keeping the newest N',
  details: [
    'The snapshot comes from the first control plane whose etcd runs; it is written as .partial and renamed when complete,',
    'mode 0600 in a 0700 directory (it contains every Kubernetes Secret). Only files named like the snapshots of this',
    'cluster are ever pruned. Restore on a fresh control plane: talosctl bootstrap --recover-from=<file>.',
    'Schedule it with cron or a systemd timer: task talos:etcd:backup PROFILE=<name> -- --keep 14',
  ].join('\n'),
  options: z.strictObject({
    profile: z.string().describe('cluster profile (name in clusters/ or path)'),
    keep: z.coerce.number().int().min(1).default(7).describe('snapshots to keep, the new one included'),
    dir: z.string().optional().describe('directory for the snapshots (default: <talos.config_dir>/backups)'),
  }),
  async run(opts, cli) {
    const { profile, paths, talosctl } = await openTalosContext(cli, opts.profile)
    if (!existsSync(paths.talosconfig)) throw new UsageError(`no talosconfig at ${paths.talosconfig}`, `generate it with task talos:config PROFILE=${profile.name}`)
    const controlPlanes = talosNodes(profile).filter((n) => n.role === 'controlplane')
    const dir = opts.dir ? resolve(opts.dir) : paths.backupsDir
    const r = await backupEtcd(profile.name, controlPlanes, talosctl.withTalosconfig(paths.talosconfig), dir, { keep: opts.keep, onProgress: info })
    info(`etcd snapshot of ${profile.name} (from ${r.node}, ${r.members} member(s)): ${r.file} (${formatBytes(r.bytes)})${r.deleted.length ? `; pruned ${r.deleted.length} older` : ''}`)
    process.stdout.write(r.file + '\n')
  },
})
