// Reads every guest config (with its snapshots) and every image volume, for orphan detection,
// and removes orphans: `unusedN` through the guest config (PVE frees the volume), storage volumes
// through the storage API.
import { RefusedError } from '../errors.ts'
import { apiPath, type PveClient } from '../pve/client.ts'
import { listResources, parseTags } from '../pve/resources.ts'
import { waitForTask } from '../pve/tasks.ts'
import type { Requirement } from '../vm/permissions.ts'
import type { GuestConfigs, Orphan, StoredVolume } from './orphans.ts'

export async function readGuests(client: PveClient): Promise<GuestConfigs[]> {
  const rows = (await listResources(client, 'vm')).filter((r) => r.type === 'qemu' || r.type === 'lxc')
  const read = async (r: (typeof rows)[number]): Promise<GuestConfigs> => {
    const base = apiPath`/nodes/${r.node ?? ''}/${r.type}/${Number(r.vmid)}`
    const [config, snaps] = await Promise.all([client.get<Record<string, unknown>>(`${base}/config`), client.get<{ name: string }[]>(`${base}/snapshot`)])
    const snapshots: Record<string, Record<string, unknown>> = {}
    for (const s of snaps.filter((x) => x.name !== 'current')) snapshots[s.name] = await client.get<Record<string, unknown>>(`${base}/snapshot/${encodeURIComponent(s.name)}/config`)
    return { vmid: Number(r.vmid), node: r.node ?? '', name: r.name, type: r.type as 'qemu' | 'lxc', template: r.template === 1, tags: parseTags(r.tags), config, snapshots }
  }
  const out: GuestConfigs[] = []
  for (let i = 0; i < rows.length; i += 8) out.push(...(await Promise.all(rows.slice(i, i + 8).map(read))))
  return out
}

export async function readVolumes(client: PveClient): Promise<StoredVolume[]> {
  const storages = (await listResources(client, 'storage')).filter((s) => s.status === 'available' && /(^|,)(images|rootdir)(,|$)/.test(s.content ?? ''))
  const seen = new Set<string>()
  const volumes: StoredVolume[] = []
  for (const s of storages) {
    const id = s.shared === 1 ? String(s.storage) : `${s.node}/${s.storage}`
    if (seen.has(id)) continue
    seen.add(id)
    const items = await client.get<{ volid: string; content: string; size?: number; vmid?: number }[]>(apiPath`/nodes/${s.node ?? ''}/storage/${s.storage ?? ''}/content`)
    for (const i of items.filter((x) => x.content === 'images' || x.content === 'rootdir'))
      volumes.push({ volid: i.volid, storage: s.storage ?? '', node: s.node ?? '', shared: s.shared === 1, content: i.content, size: i.size, vmid: i.vmid })
  }
  return volumes
}

/** Removes one orphan. A volume whose owner is gone is re-checked cluster-wide first. */
/**
 * The privilege removeOrphan needs: VM.Config.Disk to drop a guest's unusedN entry; for a volume
 * no guest references, Datastore.Allocate on its storage (PVE's rule for deleting volumes, which
 * the tool's least-privilege role does not grant).
 */
export function orphanRequirement(o: Orphan): Requirement {
  return o.kind === 'unused' ? { path: `/vms/${o.vmid}`, privilege: 'VM.Config.Disk' } : { path: `/storage/${o.storage}`, privilege: 'Datastore.Allocate' }
}

export async function removeOrphan(client: PveClient, o: Orphan, guests: GuestConfigs[]): Promise<void> {
  if (o.kind === 'unused') {
    const g = guests.find((x) => x.vmid === o.vmid)!
    const base = apiPath`/nodes/${g.node}/${g.type}/${g.vmid}`
    const current = await client.get<Record<string, unknown>>(`${base}/config`)
    if (current[o.key!] === undefined || !String(current[o.key!]).startsWith(o.volid)) throw new RefusedError(`VM ${g.vmid}: ${o.key} changed since the scan; nothing removed`)
    // The digest makes PVE refuse if the config changed in between; deleting unusedN frees the volume.
    await client.put(`${base}/config`, { delete: o.key, digest: String(current.digest ?? '') || undefined })
    return
  }
  if (o.ownerExists === false && o.vmid !== undefined) {
    // /cluster/nextid sees every VMID, even those this token may not read: proof nobody owns it.
    await client.get('/cluster/nextid', { vmid: o.vmid }).catch((err) => {
      throw new RefusedError(`${o.volid}: VMID ${o.vmid} exists after all (${(err as Error).message}); nothing removed`)
    })
  }
  // delay: PVE waits up to that long itself and answers null when the deletion is done.
  const upid = await client.delete<string | null>(apiPath`/nodes/${o.node}/storage/${o.storage}/content/${o.volid}`, { delay: 5 })
  if (typeof upid === 'string' && upid.startsWith('UPID:')) await waitForTask(client, upid, { pollMs: 200 })
}
