// Delete protocol (reliability.md P11): locate, check what may not be deleted (templates, the
// template VMID range, protection, VMs the tool does not own), stop, DELETE with purge and
// destroy-unreferenced-disks, wait, then confirm the VM is really gone.
import { RefusedError, TaskFailedError } from '../errors.ts'
import { qemuPath, type VmResource } from './api.ts'
import { ensureUnlocked, getConfig, getStatus, listVmResources, type VmOps } from './context.ts'
import { runVmTask } from './run-task.ts'
import { splitTags } from './normalize.ts'

export interface DeletePolicy {
  /** vmid_ranges.templates: ids there are never deleted by this command. */
  templateRange: { min: number; max: number }
  /** tags.managed: the ownership tag. */
  managedTag: string
  /** --force-protected (confirmed separately): clear `protection` and delete anyway. */
  forceProtected: boolean
  /** --include-unowned: also delete VMs without the ownership tag. */
  includeUnowned: boolean
}

export interface DeleteCandidate {
  vmid: number
  name?: string
  node: string
  status: string
  tags: string
  protection: boolean
  template: boolean
  disks: string[]
}

const DISK_KEY = /^(scsi|virtio|sata|ide|efidisk|tpmstate|unused)\d+$/

/** What the confirmation shows: the VM and every disk that goes with it. */
export async function describeForDelete(ops: VmOps, vm: VmResource): Promise<DeleteCandidate> {
  const [config, status] = await Promise.all([getConfig(ops.api, vm), getStatus(ops.api, vm)])
  const disks = Object.entries(config)
    .filter(([k, v]) => DISK_KEY.test(k) && typeof v === 'string' && !/media=cdrom/.test(v))
    .map(([k, v]) => `${k}=${String(v).split(',')[0]}`)
  return {
    vmid: vm.vmid,
    name: (config.name as string | undefined) ?? vm.name,
    node: vm.node,
    status: status.status,
    tags: String(config.tags ?? ''),
    protection: Number(config.protection ?? 0) === 1,
    template: Number(config.template ?? 0) === 1 || vm.template === 1,
    disks,
  }
}

/** Refusals, in the order a user needs to hear them. Returns the reason or undefined. */
export function deleteRefusal(c: DeleteCandidate, policy: DeletePolicy): string | undefined {
  if (c.template) return `VM ${c.vmid} is a template: templates are never deleted by this command`
  if (c.vmid >= policy.templateRange.min && c.vmid <= policy.templateRange.max) {
    return `VM ${c.vmid} is in the template VMID range ${policy.templateRange.min}-${policy.templateRange.max} (vmid_ranges.templates)`
  }
  if (c.protection && !policy.forceProtected) return `VM ${c.vmid} is protected (protection=1); pass --force-protected to clear protection and delete it`
  const owned = splitTags(c.tags).map((t) => t.toLowerCase()).includes(policy.managedTag.toLowerCase())
  if (!owned && !policy.includeUnowned) {
    return `VM ${c.vmid} was not created by this tool (no '${policy.managedTag}' tag); pass --include-unowned to delete it anyway`
  }
  return undefined
}

export function assertDeletable(c: DeleteCandidate, policy: DeletePolicy): void {
  const reason = deleteRefusal(c, policy)
  if (reason) throw new RefusedError(reason)
}

/** Stops (if needed), clears protection (if forced), deletes, waits and verifies absence. */
export async function deleteVm(ops: VmOps, vm: VmResource, c: DeleteCandidate, policy: DeletePolicy): Promise<string | undefined> {
  assertDeletable(c, policy)
  if (vm.lock) await ensureUnlocked(ops, vm)
  if (c.protection) {
    ops.log(`VM ${c.vmid}: clearing protection (--force-protected)`)
    const config = await getConfig(ops.api, vm)
    await ops.api.put(qemuPath(vm.node, vm.vmid, '/config'), { protection: 0, digest: config.digest as string })
  }
  const state = await getStatus(ops.api, vm)
  if (state.status === 'running') {
    ops.log(`VM ${c.vmid}: stopping`)
    await runVmTask(ops, () => ops.api.post<string>(qemuPath(vm.node, vm.vmid, '/status/stop')), { vmid: vm.vmid, wait: true })
  }
  ops.log(`VM ${c.vmid}: deleting with its disks`)
  const { upid } = await runVmTask(ops, () => ops.api.delete<string>(qemuPath(vm.node, vm.vmid), { purge: 1, 'destroy-unreferenced-disks': 1 }), {
    vmid: vm.vmid,
    wait: true,
  })
  const still = (await listVmResources(ops.api)).find((r) => r.vmid === vm.vmid)
  if (still) throw new TaskFailedError(`VM ${vm.vmid} still exists after its delete task ended`, { upid, hint: 'check the task log: task pve:task:log UPID=' + upid })
  return upid
}
