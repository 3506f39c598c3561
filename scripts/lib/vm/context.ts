// What the VM operations need from the outside world, passed in explicitly: the API, the task
// waiter and a progress sink. Commands build it from the foundation's context (client +
// waitForTask); tests can build it around the simulator or a stand-in.
import { NotFoundError } from '../errors.ts'
import { qemuPath, type PveApi, type VmResource } from './api.ts'
import { waitForUnlock } from './locks.ts'

export interface TaskOutcome {
  upid: string
  exitstatus: string
  warnings: string[]
}

export type TaskWaiter = (upid: string, opts?: { timeoutMs?: number; onLog?: (line: string) => void }) => Promise<TaskOutcome>

export interface VmOps {
  api: PveApi
  wait: TaskWaiter
  /** Progress for people (stderr). */
  log: (message: string) => void
  /** How long to wait for a transient lock to go away (ms). */
  lockTimeoutMs: number
  /** How long to wait for one PVE task (ms). */
  taskTimeoutMs: number
}

export const DEFAULT_LOCK_TIMEOUT_MS = 10 * 60_000
export const DEFAULT_TASK_TIMEOUT_MS = 30 * 60_000

export async function listVmResources(api: PveApi): Promise<VmResource[]> {
  const all = await api.get<VmResource[]>('/cluster/resources', { type: 'vm' })
  return all.filter((r) => r.type === undefined || r.type === 'qemu').map((r) => ({ ...r, vmid: Number(r.vmid) }))
}

/** Finds a VM cluster-wide (PVE only answers for a VM on its own node). */
export async function findVm(api: PveApi, vmid: number): Promise<VmResource> {
  const vm = (await listVmResources(api)).find((r) => r.vmid === vmid)
  if (!vm) throw new NotFoundError(`VM ${vmid} does not exist`, 'list VMs with `task pve:vms`')
  return vm
}

export interface VmStatus {
  status: string
  qmpstatus?: string
  lock?: string
  template?: number
  name?: string
  tags?: string
}

export const getStatus = (api: PveApi, vm: Pick<VmResource, 'node' | 'vmid'>) => api.get<VmStatus>(qemuPath(vm.node, vm.vmid, '/status/current'))

export const getConfig = (api: PveApi, vm: Pick<VmResource, 'node' | 'vmid'>, params?: { current?: 1; snapshot?: string }) =>
  api.get<Record<string, unknown>>(qemuPath(vm.node, vm.vmid, '/config'), params)

/** Whether a task of this VM is running on its node (undefined when the list cannot be read). */
export async function vmTaskRunning(api: PveApi, vm: Pick<VmResource, 'node' | 'vmid'>): Promise<boolean | undefined> {
  try {
    const tasks = await api.get<unknown[]>(`/nodes/${encodeURIComponent(vm.node)}/tasks`, { vmid: vm.vmid, source: 'active' })
    return tasks.length > 0
  } catch {
    return undefined
  }
}

// Locks whose task carries the VM's own id, so "no task running" really means "left behind".
// (A clone's task carries the source id, a multi-guest vzdump none.)
const SELF_TASK_LOCKS = new Set(['snapshot', 'snapshot-delete', 'rollback', 'migrate'])

/**
 * Waits until the VM carries no lock (transient locks with backoff, stale ones fail at once with
 * the remedy). Re-reads the lock each time from /cluster/resources.
 */
export async function ensureUnlocked(ops: VmOps, vm: Pick<VmResource, 'node' | 'vmid' | 'lock'>): Promise<void> {
  let first = true
  let announced = false
  const readLock = async () => (await findVm(ops.api, vm.vmid)).lock
  await waitForUnlock(
    async () => {
      const lock = first ? vm.lock : await readLock()
      first = false
      if (!lock || !SELF_TASK_LOCKS.has(lock)) return { lock, node: vm.node }
      if ((await vmTaskRunning(ops.api, vm)) !== false) return { lock, taskRunning: true, node: vm.node }
      // no task: make sure the lock did not just go away with a task that ended meanwhile
      const again = await readLock()
      return { lock: again, taskRunning: again ? false : undefined, node: vm.node }
    },
    {
      vmid: vm.vmid,
      timeoutMs: ops.lockTimeoutMs,
      onWait: (lock) => {
        if (!announced) ops.log(`VM ${vm.vmid} is locked (${lock}); waiting for the running task to finish`)
        announced = true
      },
    },
  )
}
