// "Ensure template X from image URL (+sha256) exists": download the image into the storage's
// `import` content with PVE verifying the checksum, create the VM with `import-from`, convert it to
// a template, tag it. Idempotent: a template whose description records the same source and
// checksum is left alone; a VM created by an interrupted run is finished, not duplicated. With
// local storage every node gets its own copy (cross-node clones from local storage fail).
import { createHash } from 'node:crypto'
import type { ClusterConfig } from '../config.ts'
import { ConflictError, NotFoundError, RefusedError } from '../errors.ts'
import { apiPath, type PveClient } from '../pve/client.ts'
import { listResources, type ClusterResource } from '../pve/resources.ts'
import { waitForTask } from '../pve/tasks.ts'
import { downloadUrlRequirements } from '../storage/upload.ts'
import { assertPrivileges, createVmRequirements, type Requirement } from '../vm/permissions.ts'
import { VmidAllocator } from '../vm/vmid.ts'
import { importFilename, readMarker, sameImage, templateNodes, type ImageSource, type TemplateParams } from './spec.ts'

export interface TemplateRequest {
  name: string
  source: ImageSource
  vmid?: number
  /** storage with `import` content that receives the image (default: the first one on the node) */
  imageStorage?: string
  /** restrict to these nodes (default: every online node for local storage, one for shared) */
  nodes?: string[]
  build: (vmid: number, importVolid: string) => TemplateParams
}

export type NodeAction = 'exists' | 'created' | 'finished' | 'would-create'

export interface NodeResult {
  node: string
  vmid: number
  name: string
  action: NodeAction
  image: string
}

interface StorageRow {
  storage: string
  content?: string
  shared?: number
  active?: number
  enabled?: number
}

export interface EnsureOptions {
  dryRun: boolean
  log?: (msg: string) => void
  timeoutMs?: number
}

export async function ensureTemplate(client: PveClient, config: ClusterConfig, req: TemplateRequest, opts: EnsureOptions): Promise<NodeResult[]> {
  const [nodeRows, vmRows, storageRows] = await Promise.all([listResources(client, 'node'), listResources(client, 'vm'), listResources(client, 'storage')])
  const diskStorage = storageRows.find((s) => s.storage === config.defaults.storage)
  if (!diskStorage) throw new NotFoundError(`storage '${config.defaults.storage}' (defaults.storage) does not exist`)
  const online = nodeRows.filter((n) => n.status === 'online').map((n) => n.node ?? '')
  const hosts = storageRows.filter((s) => s.storage === config.defaults.storage && s.status === 'available').map((s) => s.node ?? '')
  let nodes = templateNodes(diskStorage.shared === 1, online.filter((n) => hosts.includes(n)))
  if (req.nodes?.length) {
    const unknown = req.nodes.filter((n) => !online.includes(n))
    if (unknown.length) throw new NotFoundError(`node(s) ${unknown.join(', ')} not online in the cluster`)
    nodes = diskStorage.shared === 1 ? req.nodes.slice(0, 1) : req.nodes
  }
  if (!nodes.length) throw new RefusedError(`no online node has storage '${config.defaults.storage}'`)

  const urlHash = createHash('sha256').update(req.source.url).digest('hex')
  const filename = importFilename(req.source, urlHash)
  const allocator = new VmidAllocator(client, { range: config.vmid_ranges.templates, cluster: config.cluster.name })
  const shared = diskStorage.shared === 1
  // First every node is planned with reads only; the privileges of all planned steps are checked
  // together; only then does the first download or create go out.
  const results: NodeResult[] = []
  const steps: Step[] = []
  const allocated: number[] = []
  try {
    let explicitVmid = req.vmid
    for (const node of nodes) {
      // On shared storage the template may sit on any node; on local storage only this node counts.
      const named = vmRows.filter((v) => v.type === 'qemu' && v.name === req.name && (shared || v.node === node))
      const ours = await describeCandidates(client, named)
      const match = ours.find((c) => sameImage(readMarker(c.description), req.source))
      if (match?.row.template === 1) {
        results.push({ node: match.row.node ?? node, vmid: Number(match.row.vmid), name: req.name, action: 'exists', image: filename })
        continue
      }
      if (match) {
        // A previous run created the VM but did not get to the conversion.
        const result: NodeResult = { node, vmid: Number(match.row.vmid), name: req.name, action: 'would-create', image: filename }
        results.push(result)
        steps.push({ kind: 'convert', node: match.row.node ?? node, result })
        continue
      }
      const clash = ours[0]
      if (clash)
        throw new ConflictError(
          `VM ${clash.row.vmid} on ${clash.row.node} is already named '${req.name}' but was built from ${readMarker(clash.description)?.source ?? 'an unknown image'}`,
          'choose another NAME (e.g. with a version), or delete the old template first',
        )
      const importStorage = pickImportStorage(await client.get<StorageRow[]>(apiPath`/nodes/${node}/storage`, { content: 'import' }), req.imageStorage, node)
      const importVolid = `${importStorage}:import/${filename}`
      let vmid = explicitVmid
      explicitVmid = undefined // an explicit VMID names the first template created; the others are allocated
      const result: NodeResult = { node, vmid: vmid ?? 0, name: req.name, action: 'would-create', image: importVolid }
      results.push(result)
      if (opts.dryRun) continue
      const download = !(await hasImage(client, node, importStorage, filename))
      if (vmid !== undefined) await client.get('/cluster/nextid', { vmid }) // 400 "already exists" if taken
      else allocated.push((vmid = await allocator.allocate()))
      result.vmid = vmid
      steps.push({ kind: 'create', node, result, importStorage, download, params: req.build(vmid, importVolid) })
    }
    if (opts.dryRun) return results
    await assertPrivileges(client, steps.flatMap(stepRequirements))
    for (const step of steps) {
      const { node, result } = step
      if (step.kind === 'create') {
        if (step.download) await downloadImage(client, node, step.importStorage, filename, req.source, opts)
        opts.log?.(`creating VM ${result.vmid} '${req.name}' on ${node} from ${result.image}`)
        const upid = await client.post<string>(apiPath`/nodes/${node}/qemu`, step.params)
        allocator.commit(result.vmid)
        await waitForTask(client, upid, { timeoutMs: opts.timeoutMs, pollMs: 200 })
      }
      await convert(client, node, result.vmid, opts)
      result.action = step.kind === 'create' ? 'created' : 'finished'
    }
  } finally {
    for (const vmid of allocated) allocator.release(vmid) // no-op for committed ids
  }
  return results
}

type Step =
  | { kind: 'convert'; node: string; result: NodeResult }
  | { kind: 'create'; node: string; result: NodeResult; importStorage: string; download: boolean; params: TemplateParams }

/** The privileges a step needs: download-url when the image is missing, create, convert (VM.Allocate). */
function stepRequirements(step: Step): Requirement[] {
  const convert: Requirement = { path: `/vms/${step.result.vmid}`, privilege: 'VM.Allocate' }
  if (step.kind === 'convert') return [convert]
  return [...(step.download ? downloadUrlRequirements(step.node, step.importStorage) : []), ...createVmRequirements(step.result.vmid, step.params), convert]
}

async function describeCandidates(client: PveClient, rows: ClusterResource[]): Promise<{ row: ClusterResource; description?: string }[]> {
  return Promise.all(
    rows.map(async (row) => {
      const cfg = await client.get<{ description?: string }>(apiPath`/nodes/${row.node ?? ''}/qemu/${Number(row.vmid)}/config`)
      return { row, description: cfg.description }
    }),
  )
}

function pickImportStorage(rows: StorageRow[], wanted: string | undefined, node: string): string {
  const usable = rows.filter((s) => (s.content ?? '').split(',').includes('import') && s.active !== 0 && s.enabled !== 0)
  if (wanted) {
    if (!usable.some((s) => s.storage === wanted)) throw new NotFoundError(`storage '${wanted}' on ${node} does not accept import content`, 'enable the "import" content type on it, or pick another --image-storage')
    return wanted
  }
  const first = usable.sort((a, b) => a.storage.localeCompare(b.storage))[0]
  if (!first) throw new NotFoundError(`no storage on ${node} accepts import content`, 'enable the "import" content type on a directory storage (e.g. local)')
  return first.storage
}

/** The import content already holds the image (its name carries the checksum). */
async function hasImage(client: PveClient, node: string, storage: string, filename: string): Promise<boolean> {
  const content = await client.get<{ volid: string }[]>(apiPath`/nodes/${node}/storage/${storage}/content`, { content: 'import' })
  return content.some((c) => c.volid === `${storage}:import/${filename}`)
}

async function downloadImage(client: PveClient, node: string, storage: string, filename: string, src: ImageSource, opts: EnsureOptions): Promise<void> {
  opts.log?.(`downloading ${src.url} into ${storage} on ${node}${src.sha256 ? ' (PVE verifies the SHA-256)' : ''}`)
  const upid = await client.post<string>(apiPath`/nodes/${node}/storage/${storage}/download-url`, {
    url: src.url,
    content: 'import',
    filename,
    checksum: src.sha256?.toLowerCase(),
    'checksum-algorithm': src.sha256 ? 'sha256' : undefined,
  })
  await waitForTask(client, upid, { timeoutMs: opts.timeoutMs, pollMs: 200 })
}

async function convert(client: PveClient, node: string, vmid: number, opts: EnsureOptions): Promise<void> {
  opts.log?.(`converting VM ${vmid} to a template`)
  const upid = await client.post<string>(apiPath`/nodes/${node}/qemu/${vmid}/template`)
  // PVE 9 answers with a UPID; older versions finished synchronously (null).
  if (typeof upid === 'string') await waitForTask(client, upid, { timeoutMs: opts.timeoutMs, pollMs: 200 })
}
