// Putting an ISO on a storage: `download-url` (PVE fetches it and verifies the checksum) or a
// multipart upload of a local file to the node that owns the storage (the upload endpoint runs
// on the node that receives the request, it is not proxied).
import { createReadStream, openAsBlob } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { basename } from 'node:path'
import { fetch, FormData } from 'undici'
import type { ClusterConfig } from '../config.ts'
import { resolveCredentials } from '../credentials.ts'
import { ApiError, NotFoundError, UsageError } from '../errors.ts'
import { apiPath, type PveClient } from '../pve/client.ts'
import { createAgent } from '../pve/tls.ts'
import { waitForTask } from '../pve/tasks.ts'
import { assertPrivileges, type Requirement } from '../vm/permissions.ts'

const DECOMPRESS = { gz: 'gz', zst: 'zst', bz2: 'bz2', lzo: 'lzo' } as const

/** File name on the storage and the decompression PVE applies (ISO content only). */
export function isoTarget(nameOrUrl: string, override?: string): { filename: string; compression?: string } {
  const base = override ?? basename(new URL(nameOrUrl, 'file:///').pathname)
  const ext = /\.(gz|zst|bz2|lzo|xz)$/i.exec(base)?.[1]?.toLowerCase()
  if (ext === 'xz') throw new UsageError(`${base}: PVE cannot decompress xz`, 'decompress it locally (xz -d) and upload it with FILE=, or use a .gz/.zst/.bz2 source')
  const filename = ext ? base.slice(0, -(ext.length + 1)) : base
  if (!/\.(iso|img)$/i.test(filename)) throw new UsageError(`${filename}: an ISO file name must end in .iso or .img`, 'pass --filename <name>.iso')
  if (!/^[a-zA-Z0-9\-.+=_]+$/.test(filename)) throw new UsageError(`${filename}: only letters, digits and - . + = _ are allowed in a storage file name`, 'pass --filename')
  return { filename, compression: ext ? DECOMPRESS[ext as keyof typeof DECOMPRESS] : undefined }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

export async function existingIso(client: PveClient, node: string, storage: string, filename: string): Promise<{ size?: number } | undefined> {
  const items = await client.get<{ volid: string; size?: number }[]>(apiPath`/nodes/${node}/storage/${storage}/content`, { content: 'iso' })
  return items.find((i) => i.volid === `${storage}:iso/${filename}`)
}

/**
 * POST …/download-url checks ['and', Datastore.AllocateTemplate on the storage, ['or', Sys.Audit
 * and Sys.Modify on / (the old way), Sys.AccessNetwork on the node]] (the fetch probes the node's
 * network): the node privilege is asked for, the legacy pair on / is accepted instead.
 */
export function downloadUrlRequirements(node: string, storage: string): Requirement[] {
  return [
    { path: `/storage/${storage}`, privilege: 'Datastore.AllocateTemplate' },
    { path: `/nodes/${node}`, privilege: 'Sys.AccessNetwork', alternatives: [{ path: '/', privileges: ['Sys.Audit', 'Sys.Modify'] }] },
  ]
}

/** POST …/upload: Datastore.AllocateTemplate on the storage. */
export const uploadRequirements = (storage: string): Requirement[] => [{ path: `/storage/${storage}`, privilege: 'Datastore.AllocateTemplate' }]

export async function downloadIso(client: PveClient, node: string, storage: string, url: string, filename: string, sha256: string | undefined, compression: string | undefined): Promise<void> {
  const upid = await client.post<string>(apiPath`/nodes/${node}/storage/${storage}/download-url`, {
    url,
    content: 'iso',
    filename,
    checksum: sha256,
    'checksum-algorithm': sha256 ? 'sha256' : undefined,
    compression,
  })
  await waitForTask(client, upid, { pollMs: 200 })
}

/** Multipart POST …/upload straight to `node`; PVE checks the SHA-256 after receiving the file. */
export async function uploadIso(client: PveClient, config: ClusterConfig, node: string, storage: string, file: string, filename: string, sha256: string): Promise<void> {
  const endpoint = config.cluster.nodes.find((n) => n.name === node)
  if (!endpoint) throw new NotFoundError(`node ${node} is not in cluster.nodes of ${config.file}: the upload must go to the node itself`)
  const { tokenId, secret } = await resolveCredentials(config)
  const size = (await stat(file)).size
  const form = new FormData()
  form.append('content', 'iso')
  form.append('checksum', sha256)
  form.append('checksum-algorithm', 'sha256')
  form.append('filename', await openAsBlob(file), filename)
  const dispatcher = createAgent(config.tls, { connectTimeoutMs: 10_000, configFile: config.file })
  const path = apiPath`/nodes/${node}/storage/${storage}/upload`
  try {
    const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host
    const res = await fetch(`https://${host}:${endpoint.port}/api2/json${path}`, {
      method: 'POST',
      headers: { authorization: `PVEAPIToken=${tokenId}=${secret}`, accept: 'application/json' },
      body: form,
      dispatcher,
      signal: AbortSignal.timeout(Math.max(60_000, size / 1024)), // ≥ 1 MB/s
    })
    const text = await res.text()
    if (!res.ok) {
      let message = res.statusText
      try {
        message = JSON.parse(text).message ?? message
      } catch {
        // the reason phrase carries PVE's message
      }
      throw new ApiError({ message: `POST ${path}: ${String(message).trim()} (${res.status})`, status: res.status, method: 'POST', path })
    }
    const upid = JSON.parse(text).data as string
    await waitForTask(client, upid, { pollMs: 200 })
  } finally {
    await dispatcher.close()
  }
}

export type IsoSource = { file: string; sha256: string } | { url: string; sha256?: string; compression?: string }

export interface IsoPlacement {
  nodes: string[]
  storage: string
  filename: string
  source: IsoSource
  dryRun: boolean
  log?: (msg: string) => void
}

export interface IsoResult {
  node: string
  volid: string
  action: 'exists' | 'would-upload' | 'would-download' | 'uploaded' | 'downloaded'
}

/**
 * Puts the ISO on every given node that lacks it. Every node's privileges are checked before the
 * first transfer, so a token that may serve only some nodes leaves none half-served.
 */
export async function placeIso(client: PveClient, config: ClusterConfig, p: IsoPlacement): Promise<IsoResult[]> {
  const volid = `${p.storage}:iso/${p.filename}`
  const src = p.source
  const results: IsoResult[] = []
  for (const node of p.nodes) {
    const existing = await existingIso(client, node, p.storage, p.filename)
    results.push({ node, volid, action: existing ? 'exists' : 'file' in src ? 'would-upload' : 'would-download' })
  }
  const todo = results.filter((r) => r.action !== 'exists')
  if (p.dryRun || !todo.length) return results
  await assertPrivileges(client, todo.flatMap((r) => ('file' in src ? uploadRequirements(p.storage) : downloadUrlRequirements(r.node, p.storage))))
  for (const r of todo) {
    p.log?.(`${'file' in src ? 'uploading' : 'downloading'} ${p.filename} to ${p.storage} on ${r.node}…`)
    if ('file' in src) await uploadIso(client, config, r.node, p.storage, src.file, p.filename, src.sha256)
    else await downloadIso(client, r.node, p.storage, src.url, p.filename, src.sha256, src.compression)
    r.action = 'file' in src ? 'uploaded' : 'downloaded'
  }
  return results
}
