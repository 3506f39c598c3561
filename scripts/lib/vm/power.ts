// Power operations. Each first decides from the VM's state whether there is anything to do
// (starting a running VM is a no-op, not PVE's "already running" failure), waits out transient
// locks, then dispatches and waits for the PVE task.
import { ConflictError } from '../errors.ts'
import { qemuPath, type VmResource } from './api.ts'
import { ensureUnlocked, getStatus, type VmOps } from './context.ts'
import { runVmTask, type VmTaskResult } from './run-task.ts'

export const POWER_ACTIONS = ['start', 'shutdown', 'stop', 'reboot', 'suspend', 'resume'] as const
export type PowerAction = (typeof POWER_ACTIONS)[number]

/** PVE privilege every power action needs on /vms/<id>. */
export const POWER_PRIVILEGE = 'VM.PowerMgmt'

export type PowerPlan = { do: true } | { do: false; reason: string }

/**
 * Whether `action` has work to do for a VM in this state (status/current: status, qmpstatus).
 * Errors for actions PVE would refuse outright (reboot or suspend a stopped VM).
 */
export function planPower(action: PowerAction, state: { status: string; qmpstatus?: string; lock?: string }, vmid: number): PowerPlan {
  const running = state.status === 'running'
  const paused = running && (state.qmpstatus === 'paused' || state.qmpstatus === 'suspended')
  switch (action) {
    case 'start':
      if (state.lock === 'suspended') return { do: false, reason: 'suspended to disk: use resume' }
      if (paused) return { do: false, reason: 'paused: use resume' }
      return running ? { do: false, reason: 'already running' } : { do: true }
    case 'stop':
      return running ? { do: true } : { do: false, reason: 'already stopped' }
    case 'shutdown':
      if (paused) throw new ConflictError(`VM ${vmid} is paused: it cannot shut down`, `resume it first (task pve:vm:resume VMID=${vmid}), or stop it`)
      return running ? { do: true } : { do: false, reason: 'already stopped' }
    case 'reboot':
      if (!running) throw new ConflictError(`VM ${vmid} is not running: nothing to reboot`, `start it with task pve:vm:start VMID=${vmid}`)
      if (paused) throw new ConflictError(`VM ${vmid} is paused: it cannot reboot`, `resume it first (task pve:vm:resume VMID=${vmid})`)
      return { do: true }
    case 'suspend':
      if (!running) throw new ConflictError(`VM ${vmid} is not running: nothing to suspend`)
      return paused ? { do: false, reason: 'already paused' } : { do: true }
    case 'resume':
      if (state.lock === 'suspended') return { do: true }
      if (!running) throw new ConflictError(`VM ${vmid} is not running: nothing to resume`, `start it with task pve:vm:start VMID=${vmid}`)
      return paused ? { do: true } : { do: false, reason: 'already running' }
  }
}

export interface PowerOptions {
  wait: boolean
  /** shutdown/stop/reboot: seconds PVE waits before giving up (or, for shutdown with forceStop, killing). */
  timeout?: number
  /** shutdown: stop the VM when it does not power off within the timeout. */
  forceStop?: boolean
  /** suspend: save the state to disk and stop QEMU (hibernate). */
  toDisk?: boolean
}

export interface PowerResult {
  vmid: number
  action: PowerAction
  /** 'done' after the task ended, 'dispatched' with --no-wait, 'skipped' when there was nothing to do. */
  result: 'done' | 'dispatched' | 'skipped'
  reason?: string
  upid?: string
}

export async function powerVm(ops: VmOps, vm: VmResource, action: PowerAction, opts: PowerOptions): Promise<PowerResult> {
  const state = await getStatus(ops.api, vm)
  const plan = planPower(action, { ...state, lock: state.lock ?? vm.lock }, vm.vmid)
  if (!plan.do) return { vmid: vm.vmid, action, result: 'skipped', reason: plan.reason }
  const lock = state.lock ?? vm.lock
  if (lock && !(action === 'resume' && lock === 'suspended')) await ensureUnlocked(ops, { ...vm, lock })
  const params: Record<string, string | number | undefined> = {}
  if (opts.timeout !== undefined && ['shutdown', 'stop', 'reboot'].includes(action)) params.timeout = opts.timeout
  if (action === 'shutdown' && opts.forceStop) params.forceStop = 1
  if (action === 'suspend' && opts.toDisk) params.todisk = 1
  // PVE's own wait is `timeout` (default 60 s for shutdown); ours must outlast it.
  const taskTimeoutMs = opts.timeout !== undefined ? Math.max(ops.taskTimeoutMs, (opts.timeout + 60) * 1000) : undefined
  const res: VmTaskResult = await runVmTask(ops, () => ops.api.post<string>(qemuPath(vm.node, vm.vmid, `/status/${action}`), params), {
    vmid: vm.vmid,
    wait: opts.wait,
    timeoutMs: taskTimeoutMs,
  })
  return { vmid: vm.vmid, action, result: opts.wait ? 'done' : 'dispatched', upid: res.upid }
}
