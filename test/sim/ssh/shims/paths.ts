// The simulated node has no real filesystem: a path under a directory storage (e.g.
// /var/lib/vz/template/iso/x.img) names a volume of that storage (local:iso/x.img), as it does on
// PVE's dir storages.
import type { Context } from './cli.ts'

interface StorageConfig {
  storage: string
  type: string
  path?: string
  content?: string
}

/** Subdirectories of a dir storage and the content type stored there (PVE::Storage::Plugin). */
const SUBDIRS: [RegExp, string, (m: RegExpExecArray) => string][] = [
  [/^template\/iso\/([^/]+)$/, 'iso', (m) => `iso/${m[1]}`],
  [/^template\/cache\/([^/]+)$/, 'vztmpl', (m) => `vztmpl/${m[1]}`],
  [/^import\/([^/]+)$/, 'import', (m) => `import/${m[1]}`],
  [/^snippets\/([^/]+)$/, 'snippets', (m) => `snippets/${m[1]}`],
  [/^dump\/([^/]+)$/, 'backup', (m) => `backup/${m[1]}`],
  [/^images\/(\d+)\/([^/]+)$/, 'images', (m) => `${m[1]}/${m[2]}`],
]

export interface NodeVolume {
  storage: string
  content: string
  /** `<storage>:<volname>` */
  volid: string
  /** Directory and file name as on the node (for downloads into the storage). */
  filename: string
  exists: boolean
  /** What `import-from=` receives for this file. */
  importFrom: string
}

const DEFAULT_PATHS: Record<string, string> = { local: '/var/lib/vz' }

export async function resolveNodePath(ctx: Context, path: string): Promise<NodeVolume | undefined> {
  if (!path.startsWith('/')) return undefined
  const storages = (await ctx.call('GET', '/storage')) as StorageConfig[]
  for (const s of storages) {
    const root = (s.path ?? (s.type === 'dir' ? DEFAULT_PATHS[s.storage] : undefined))?.replace(/\/+$/, '')
    if (!root || !path.startsWith(`${root}/`)) continue
    const rel = path.slice(root.length + 1)
    for (const [re, content, volname] of SUBDIRS) {
      const m = re.exec(rel)
      if (!m) continue
      const volid = `${s.storage}:${volname(m)}`
      const listed = (await ctx.call('GET', `/nodes/${ctx.node}/storage/${s.storage}/content`, { content })) as { volid: string }[]
      return { storage: s.storage, content, volid, filename: rel.split('/').pop()!, exists: listed.some((v) => v.volid === volid), importFrom: volid }
    }
  }
  return undefined
}

/** `qm set/create --scsi0 local-lvm:0,import-from=/var/lib/vz/...`: node paths become volumes. */
export async function rewriteImportPaths(ctx: Context, params: Record<string, unknown>): Promise<void> {
  for (const [key, value] of Object.entries(params)) {
    if (typeof value !== 'string') continue
    const m = /(^|,)import-from=(\/[^,]*)/.exec(value)
    if (!m) continue
    const volume = await resolveNodePath(ctx, m[2])
    if (volume?.exists) params[key] = value.replace(`import-from=${m[2]}`, `import-from=${volume.importFrom}`)
  }
}
