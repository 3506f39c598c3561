// Snapshot operations: list, create (with the tool's name scheme when no name is given),
// rollback, delete, and prune (only snapshots this tool created, see snapshot-names.ts).
import { NotFoundError } from '../errors.ts'
import { qemuPath, type VmResource } from './api.ts'
import { ensureUnlocked, type VmOps } from './context.ts'
import { runVmTask } from './run-task.ts'
import { assertSnapshotName, planPrune, type SnapshotInfo } from './snapshot-names.ts'

export interface SnapshotRow extends SnapshotInfo {
  vmid: number
  snapstate?: string
}

/** A VM's snapshots, oldest first, without PVE's "current" pseudo-entry. */
export async function listSnapshots(ops: VmOps, vm: Pick<VmResource, 'node' | 'vmid'>): Promise<SnapshotRow[]> {
  const rows = await ops.api.get<(SnapshotInfo & { snapstate?: string })[]>(qemuPath(vm.node, vm.vmid, '/snapshot'))
  return rows
    .filter((r) => r.name !== 'current')
    .map((r) => ({ ...r, vmid: vm.vmid }))
    .sort((a, b) => (a.snaptime ?? 0) - (b.snaptime ?? 0))
}

export async function requireSnapshot(ops: VmOps, vm: VmResource, name: string): Promise<SnapshotRow> {
  const snap = (await listSnapshots(ops, vm)).find((s) => s.name === name)
  if (!snap) throw new NotFoundError(`VM ${vm.vmid} has no snapshot '${name}'`, `list them with task pve:snap:list VMID=${vm.vmid}`)
  return snap
}

export interface SnapshotTaskOptions {
  wait: boolean
}

export async function createSnapshot(ops: VmOps, vm: VmResource, name: string, opts: SnapshotTaskOptions & { vmstate?: boolean; description?: string }) {
  assertSnapshotName(name)
  if (vm.lock) await ensureUnlocked(ops, vm)
  return runVmTask(
    ops,
    () => ops.api.post<string>(qemuPath(vm.node, vm.vmid, '/snapshot'), { snapname: name, vmstate: opts.vmstate ? 1 : undefined, description: opts.description }),
    { vmid: vm.vmid, wait: opts.wait },
  )
}

export async function rollbackSnapshot(ops: VmOps, vm: VmResource, name: string, opts: SnapshotTaskOptions & { start?: boolean }) {
  if (vm.lock) await ensureUnlocked(ops, vm)
  return runVmTask(ops, () => ops.api.post<string>(qemuPath(vm.node, vm.vmid, `/snapshot/${encodeURIComponent(name)}/rollback`), { start: opts.start ? 1 : undefined }), {
    vmid: vm.vmid,
    wait: opts.wait,
  })
}

export async function deleteSnapshot(ops: VmOps, vm: VmResource, name: string, opts: SnapshotTaskOptions) {
  if (vm.lock) await ensureUnlocked(ops, vm)
  return runVmTask(ops, () => ops.api.delete<string>(qemuPath(vm.node, vm.vmid, `/snapshot/${encodeURIComponent(name)}`)), { vmid: vm.vmid, wait: opts.wait })
}

/** Snapshots newer than `snap` (by PVE's snaptime): what a rollback makes unreachable on ZFS. */
export function newerSnapshots(all: SnapshotRow[], snap: SnapshotRow): SnapshotRow[] {
  return all.filter((s) => (s.snaptime ?? 0) > (snap.snaptime ?? 0))
}

export interface PrunePlanRow {
  vmid: number
  node: string
  name: string
  snaptime?: number
}

/** What prune would delete on each VM (ours only, keeping `keep` per label). */
export async function planPruneFor(ops: VmOps, vms: VmResource[], keep: number, label?: string): Promise<PrunePlanRow[]> {
  const perVm = await Promise.all(vms.map(async (vm) => planPrune(await listSnapshots(ops, vm), keep, label).map((s) => ({ vmid: vm.vmid, node: vm.node, name: s.name, snaptime: s.snaptime }))))
  return perVm.flat()
}
