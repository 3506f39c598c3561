// etcd snapshots of a Talos cluster (`talosctl etcd snapshot`) into talos.config_dir/backups: a
// timestamped file per run, written under a temporary name and renamed when complete, mode 0600
// (the snapshot holds every Kubernetes Secret), and the oldest snapshots beyond `keep` deleted.
// Restore: `talosctl bootstrap --recover-from=<file>` on a fresh control plane.
import { readdir, rename, rm, stat, chmod } from 'node:fs/promises'
import { join } from 'node:path'
import { TaskFailedError } from '../errors.ts'
import { etcdState } from './bootstrap.ts'
import type { TalosNode } from './configs.ts'
import { privateDir } from './secrets.ts'
import type { Talosctl } from './talosctl.ts'

export interface BackupOptions {
  /** How many snapshots to keep (the new one included); older ones are deleted. */
  keep: number
  now?: Date
  timeoutMs?: number
  onProgress?: (message: string) => void
}

export interface BackupResult {
  file: string
  bytes: number
  node: string
  members: number
  deleted: string[]
}

/** `lab-etcd-20261206T153000Z.snapshot`: sorts by time, and retention only ever matches these. */
export const snapshotName = (cluster: string, at: Date) => `${cluster}-etcd-${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.snapshot`
const snapshotPattern = (cluster: string) => new RegExp(`^${cluster.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-etcd-\\d{8}T\\d{6}Z\\.snapshot$`)

export async function listSnapshots(dir: string, cluster: string): Promise<string[]> {
  const pattern = snapshotPattern(cluster)
  const names = await readdir(dir).catch(() => [] as string[])
  return names.filter((n) => pattern.test(n)).sort()
}

export async function backupEtcd(cluster: string, controlPlanes: TalosNode[], talosctl: Talosctl, dir: string, opts: BackupOptions): Promise<BackupResult> {
  const progress = opts.onProgress ?? (() => {})
  // The first control plane whose etcd runs with members: a snapshot from a node outside the quorum could be stale.
  let source: { node: TalosNode; members: number } | undefined
  for (const cp of controlPlanes) {
    const s = await etcdState(talosctl, cp)
    if (s.running && s.members.length) {
      source = { node: cp, members: s.members.length }
      break
    }
    progress(`${cp.name}: etcd ${s.serviceState ?? 'does not answer'}; trying the next control plane`)
  }
  if (!source) throw new TaskFailedError(`no control plane of ${cluster} runs etcd: nothing to snapshot`, { hint: 'talosctl service etcd on each control plane' })

  await privateDir(dir)
  const file = join(dir, snapshotName(cluster, opts.now ?? new Date()))
  const partial = `${file}.partial`
  progress(`etcd snapshot from ${source.node.name} (${source.members} member(s))`)
  try {
    await talosctl.run(['etcd', 'snapshot', partial], { nodes: [source.node.ip], timeoutMs: opts.timeoutMs ?? 10 * 60_000 })
    const bytes = (await stat(partial)).size
    if (!bytes) throw new TaskFailedError(`the etcd snapshot from ${source.node.name} is empty`)
    await chmod(partial, 0o600)
    await rename(partial, file)
  } finally {
    await rm(partial, { force: true })
  }
  const bytes = (await stat(file)).size

  const all = await listSnapshots(dir, cluster)
  const deleted = all.slice(0, Math.max(0, all.length - opts.keep))
  for (const old of deleted) await rm(join(dir, old))
  if (deleted.length) progress(`retention (${opts.keep}): deleted ${deleted.join(', ')}`)
  return { file, bytes, node: source.node.name, members: source.members, deleted }
}
