// Cloning templates, safe under concurrency and across nodes.
//
// Placement: PVE clones on the template's node; `target` moves the result to another node but is
// refused when any template disk is on local storage ("can't clone VM to node 'x' (VM uses local
// storage)"). So for another node we use, in order: that node's own copy of the template (same
// name), a clone with `target` when all template disks are shared, else a full clone on the
// template's node followed by an offline migration (a linked clone of a local base cannot migrate).
//
// VMIDs: allocated by VmidAllocator; "already exists" means another writer won the race, so the
// next id is taken; lock timeouts leave nothing behind, so the same clone is sent again.
import { ConflictError, NotFoundError, RefusedError, UsageError } from '../errors.ts'
import { errorText, qemuPath, type PveApi, type VmResource } from './api.ts'
import { diffConfig } from './config-diff.ts'
import { ensureUnlocked, getConfig, listVmResources, type VmOps } from './context.ts'
import { retryWithBackoff } from './executor.ts'
import { describeContention, isLockTimeout } from './locks.ts'
import { normalizeTags, splitTags } from './normalize.ts'
import { isAlreadyExists, isVmidTaken, type VmidAllocator, type VmidRange } from './vmid.ts'

export interface StorageResource {
  storage: string
  node: string
  shared?: number
  content?: string
  status?: string
}

export type ClonePlacement =
  | { strategy: 'local'; source: VmResource; node: string }
  | { strategy: 'node-copy'; source: VmResource; node: string }
  | { strategy: 'target'; source: VmResource; node: string }
  | { strategy: 'clone-then-migrate'; source: VmResource; node: string; localStorages: string[] }

const DISK_KEY = /^(scsi|virtio|sata|ide|efidisk|tpmstate)\d+$/

/** Storage ids of a config's disks and ISOs (`local-lvm:vm-100-disk-0,size=32G` → local-lvm). */
export function configStorages(config: Record<string, unknown>): string[] {
  const ids = new Set<string>()
  for (const [key, value] of Object.entries(config)) {
    if (!DISK_KEY.test(key) || typeof value !== 'string') continue
    const volume = value.split(',')[0]
    if (volume === 'none' || !volume.includes(':')) continue
    ids.add(volume.slice(0, volume.indexOf(':')))
  }
  return [...ids].sort()
}

/** Finds the template by VMID or name; with several same-named copies, prefers the one on `node`. */
export function resolveTemplate(vms: VmResource[], template: string, node?: string): VmResource {
  const templates = vms.filter((v) => v.template === 1)
  if (/^\d+$/.test(template)) {
    const vmid = Number(template)
    const vm = vms.find((v) => v.vmid === vmid)
    if (!vm) throw new NotFoundError(`template ${vmid} does not exist`, 'list templates with `task pve:templates`')
    if (vm.template !== 1) throw new RefusedError(`VM ${vmid} is not a template`, 'clone from a template (task pve:templates lists them)')
    return vm
  }
  const named = templates.filter((v) => v.name === template).sort((a, b) => a.vmid - b.vmid)
  if (!named.length) throw new NotFoundError(`no template named '${template}'`, 'list templates with `task pve:templates`')
  return named.find((v) => v.node === node) ?? named[0]
}

/**
 * Where and how to clone. `templateConfig` is the source's config (for its disks' storages);
 * `storages` is /cluster/resources?type=storage.
 */
export function planClonePlacement(
  vms: VmResource[],
  source: VmResource,
  targetNode: string | undefined,
  templateConfig: Record<string, unknown>,
  storages: StorageResource[],
): ClonePlacement {
  const node = targetNode ?? source.node
  if (node === source.node) return { strategy: 'local', source, node }
  const copy = vms.find((v) => v.template === 1 && v.node === node && v.name !== undefined && v.name === source.name)
  if (copy) return { strategy: 'node-copy', source: copy, node }
  const shared = new Set(storages.filter((s) => s.shared === 1).map((s) => s.storage))
  const local = configStorages(templateConfig).filter((s) => !shared.has(s))
  if (!local.length) return { strategy: 'target', source, node }
  return { strategy: 'clone-then-migrate', source, node, localStorages: local }
}

export interface CloneRequest {
  /** Template VMID or name. */
  template: string
  name: string
  /** Explicit VMID; allocated from vmid_ranges.vms when absent. */
  vmid?: number
  /** Node the VM should end up on (default: the template's). */
  target?: string
  full?: boolean
  storage?: string
  pool?: string
  description?: string
  /** Tags on top of the template's (the ownership tag is always added). */
  tags?: string[]
}

export interface ClonePolicy {
  allocator: VmidAllocator
  templateRange: VmidRange
  /** tags.managed, added to every clone. */
  managedTag: string
  /** tags.templates, removed from clones (a clone is not a template). */
  templatesTag: string
}

export interface CloneResult {
  vmid: number
  name: string
  node: string
  template: number
  strategy: ClonePlacement['strategy']
  upids: string[]
}

const DNS_NAME = /^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/

export function validateCloneRequest(req: CloneRequest, policy: Pick<ClonePolicy, 'templateRange'>): void {
  if (!DNS_NAME.test(req.name)) throw new UsageError(`NAME '${req.name}': PVE VM names are DNS names (letters, digits, '-', dots; no '_')`)
  if (req.storage && req.full === false) throw new UsageError('STORAGE applies to full clones only (PVE: "parameter \'storage\' not allowed for linked clones"); add FULL=1')
  if (req.vmid !== undefined && req.vmid >= policy.templateRange.min && req.vmid <= policy.templateRange.max) {
    throw new RefusedError(`VMID ${req.vmid} is in the template range ${policy.templateRange.min}-${policy.templateRange.max}`, 'leave VMID out to allocate one from vmid_ranges.vms')
  }
}

async function cloneTags(api: PveApi, vm: { node: string; vmid: number }, req: CloneRequest, policy: ClonePolicy): Promise<void> {
  const config = await getConfig(api, vm)
  const inherited = splitTags(String(config.tags ?? '')).filter((t) => t.toLowerCase() !== policy.templatesTag.toLowerCase())
  const tags = normalizeTags([...inherited, policy.managedTag, ...(req.tags ?? [])])
  const update = diffConfig(config, { tags })
  if (update.params) await api.put(qemuPath(vm.node, vm.vmid, '/config'), update.params)
}

/** Clones one VM (and moves it to its node if needed). Safe to run many at once. */
export async function cloneVm(ops: VmOps, req: CloneRequest, policy: ClonePolicy, known?: { vms: VmResource[]; storages: StorageResource[] }): Promise<CloneResult> {
  validateCloneRequest(req, policy)
  const vms = known?.vms ?? (await listVmResources(ops.api))
  const storages = known?.storages ?? (await ops.api.get<StorageResource[]>('/cluster/resources', { type: 'storage' }))
  const requested = resolveTemplate(vms, req.template, req.target)
  if (req.target && !vms.some((v) => v.node === req.target) && !storages.some((s) => s.node === req.target)) {
    throw new NotFoundError(`node '${req.target}' is not in the cluster`)
  }
  const placement = planClonePlacement(vms, requested, req.target, await getConfig(ops.api, requested), storages)
  const source = placement.source
  // STORAGE implies a full clone (PVE refuses it for linked ones)
  const full = placement.strategy === 'clone-then-migrate' ? true : (req.full ?? (req.storage ? true : undefined))
  if (placement.strategy === 'clone-then-migrate' && req.full === false) {
    throw new UsageError(`a linked clone cannot be moved to ${placement.node}: the template's disks are on local storage (${placement.localStorages.join(', ')}); use FULL=1`)
  }
  if (placement.strategy === 'clone-then-migrate') ops.log(`template ${source.vmid} has local disks (${placement.localStorages.join(', ')}) and no copy on ${placement.node}: full clone on ${source.node}, then migrate`)
  if (placement.strategy === 'node-copy') ops.log(`using template ${source.vmid} (the copy of '${source.name}' on ${placement.node})`)
  if (source.lock) await ensureUnlocked(ops, source)

  if (req.vmid !== undefined) {
    try {
      await ops.api.get('/cluster/nextid', { vmid: req.vmid })
    } catch (err) {
      if (isVmidTaken(err)) throw new ConflictError(`VM ${req.vmid} already exists: refusing to clone into it`, 'pick another VMID, or leave VMID out to allocate one')
      throw err
    }
  }

  const upids: string[] = []
  const cloneOnce = async (vmid: number) => {
    const params = {
      newid: vmid,
      name: req.name,
      full: full === undefined ? undefined : full ? 1 : 0,
      storage: req.storage,
      target: placement.strategy === 'target' ? placement.node : undefined,
      pool: req.pool,
      description: req.description,
    }
    const upid = await ops.api.post<string>(qemuPath(source.node, source.vmid, '/clone'), params)
    upids.push(upid)
    await ops.wait(upid, { timeoutMs: ops.taskTimeoutMs })
  }

  let vmid = req.vmid ?? (await policy.allocator.allocate())
  try {
    await retryWithBackoff(
      async () => {
        try {
          await cloneOnce(vmid)
        } catch (err) {
          if (!isAlreadyExists(err) || req.vmid !== undefined) throw err
          // another writer took the id between our probe and the clone: take the next one
          policy.allocator.markUsed(vmid)
          policy.allocator.release(vmid)
          vmid = await policy.allocator.allocate()
          ops.log(`VMID taken meanwhile; cloning as ${vmid}`)
          throw err
        }
      },
      {
        attempts: 8,
        initialDelayMs: 1000,
        retryable: (err) => (isAlreadyExists(err) && req.vmid === undefined) || isLockTimeout(errorText(err)),
        onRetry: (err, _attempt, delay) => {
          if (isLockTimeout(errorText(err))) ops.log(`clone ${req.name}: ${describeContention(errorText(err))}; nothing was created, retrying in ${(delay / 1000).toFixed(1)} s`)
        },
      },
    )
  } catch (err) {
    if (req.vmid === undefined) policy.allocator.release(vmid)
    if (req.vmid !== undefined && isAlreadyExists(err)) throw new ConflictError(`VM ${req.vmid} already exists: refusing to clone into it`)
    throw err
  }
  if (req.vmid === undefined) policy.allocator.commit(vmid)

  const created = { node: placement.strategy === 'target' ? placement.node : source.node, vmid }
  if (placement.strategy === 'clone-then-migrate') {
    ops.log(`VM ${vmid}: migrating to ${placement.node}`)
    const upid = await ops.api.post<string>(qemuPath(source.node, vmid, '/migrate'), { target: placement.node })
    upids.push(upid)
    await ops.wait(upid, { timeoutMs: ops.taskTimeoutMs })
    created.node = placement.node
  }
  await cloneTags(ops.api, created, req, policy)
  return { vmid, name: req.name, node: created.node, template: source.vmid, strategy: placement.strategy, upids }
}
