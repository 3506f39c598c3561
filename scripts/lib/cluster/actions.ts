// The mutating steps of cluster operations, each journaled (intent before the request, UPID right
// after, outcome at the end) and run under the resource limiter. They never retry by themselves:
// callers re-read the VM and decide again, so no request is re-sent blindly after an error.
import { apiPath, type PveClient } from '../pve/client.ts'
import { waitForTask } from '../pve/tasks.ts'
import { ApiError, TaskFailedError } from '../errors.ts'
import { isLockTimeout, lockedBy } from '../vm/locks.ts'
import { errorText } from '../vm/api.ts'
import type { ClusterJournal } from './journal.ts'
import type { ResourceLimiter, Resource } from './limits.ts'
import type { DesiredVm, LiveVm } from './plan.ts'
import type { TemplateInfo, Volume } from './live.ts'

export interface ActionContext {
  client: PveClient
  journal: ClusterJournal
  limiter: ResourceLimiter
  /** Target storage of full clones (defaults.storage). */
  storage: string
  /** Whether a storage id is shared (one pool for all nodes). */
  isShared: (storage: string) => boolean
  /** Task polling: first interval, longest interval and deadline (ms). */
  pollMs: number
  maxPollMs: number
  taskTimeoutMs: number
  signal?: AbortSignal
  /** Progress line for a VM (listr task output). */
  report: (vm: string, message: string) => void
}

/** Failures that a re-read and another attempt can resolve (PVE locks, busy workers, transport). */
export function isRetryable(err: unknown): boolean {
  const text = errorText(err)
  if (isLockTimeout(text) || lockedBy(text) || /got no worker upid|already exists|already running|does not exist|unable to find configuration file/i.test(text)) return true
  if (err instanceof TaskFailedError) return !/Parameter verification failed|permission|not allowed/i.test(text)
  if (err instanceof ApiError) return err.status === 0 || err.status >= 500
  return false
}

const storageKey = (ctx: ActionContext, node: string, storage = ctx.storage): Resource => ({ kind: 'storage', id: ctx.isShared(storage) ? storage : `${node}:${storage}` })
const nodeKey = (node: string): Resource => ({ kind: 'node', id: node })

/** Dispatches a task-spawning request and waits for the task, journaling every step. */
async function journaledTask(ctx: ActionContext, op: { op: string; vmid?: number; node: string; detail?: string }, resources: Resource[], dispatch: () => Promise<string | null>): Promise<void> {
  await ctx.limiter.run(resources, async () => {
    ctx.journal.append({ ...op, phase: 'intent' })
    let upid: string | null = null
    try {
      upid = await dispatch()
      if (upid) {
        ctx.journal.append({ ...op, phase: 'dispatched', upid })
        await waitForTask(ctx.client, upid, { pollMs: ctx.pollMs, maxPollMs: ctx.maxPollMs, timeoutMs: ctx.taskTimeoutMs, signal: ctx.signal, quiet: true })
      }
      ctx.journal.append({ ...op, phase: 'done', ...(upid ? { upid } : {}) })
    } catch (err) {
      // A task still running past our deadline stays "dispatched": the next run waits for it.
      const stillRunning = err instanceof TaskFailedError && !err.exitStatus && upid
      if (!stillRunning) ctx.journal.append({ ...op, phase: 'failed', ...(upid ? { upid } : {}), detail: errorText(err).split('\n')[0] })
      throw err
    }
  })
}

/** Full clone with the owner marker in the description; straight to the target node when storage allows. */
export async function cloneVm(ctx: ActionContext, d: DesiredVm, template: TemplateInfo): Promise<void> {
  const direct = d.node === template.node || (template.shared && ctx.isShared(ctx.storage))
  const target = d.node !== template.node && direct ? d.node : undefined
  ctx.journal.updateState((s) => {
    if (!s.vmids.includes(d.vmid)) s.vmids.push(d.vmid)
  })
  ctx.report(d.name, `cloning template ${template.vmid} on ${template.node}${target ? ` to ${target}` : ''}`)
  const resources = [nodeKey(template.node), ...(target ? [nodeKey(target)] : []), storageKey(ctx, target ?? template.node)]
  await journaledTask(ctx, { op: 'clone', vmid: d.vmid, node: template.node, detail: d.name }, resources, () =>
    ctx.client.post<string>(apiPath`/nodes/${template.node}/qemu/${template.vmid}/clone`, {
      newid: d.vmid,
      name: d.name,
      full: 1,
      storage: ctx.storage,
      description: d.description,
      target,
    }),
  )
}

/** Offline migration (the VM is stopped; local disks are copied). */
export async function migrateVm(ctx: ActionContext, name: string, vm: LiveVm, target: string): Promise<void> {
  ctx.report(name, `moving from ${vm.node} to ${target}`)
  await journaledTask(ctx, { op: 'migrate', vmid: vm.vmid, node: vm.node, detail: target }, [nodeKey(vm.node), nodeKey(target), storageKey(ctx, target)], () =>
    ctx.client.post<string>(apiPath`/nodes/${vm.node}/qemu/${vm.vmid}/migrate`, { target }),
  )
}

export async function configureVm(ctx: ActionContext, name: string, vm: LiveVm, params: Record<string, string>): Promise<void> {
  ctx.report(name, `configuring ${Object.keys(params).filter((k) => k !== 'digest').join(', ')}`)
  await ctx.limiter.run([nodeKey(vm.node)], async () => {
    ctx.journal.append({ op: 'config', vmid: vm.vmid, node: vm.node, phase: 'intent', detail: Object.keys(params).join(',') })
    try {
      await ctx.client.put(apiPath`/nodes/${vm.node}/qemu/${vm.vmid}/config`, params)
    } catch (err) {
      ctx.journal.append({ op: 'config', vmid: vm.vmid, node: vm.node, phase: 'failed', detail: errorText(err).split('\n')[0] })
      throw err
    }
    ctx.journal.append({ op: 'config', vmid: vm.vmid, node: vm.node, phase: 'done' })
  })
}

export async function resizeDisk(ctx: ActionContext, name: string, vm: LiveVm, disk: string, size: string): Promise<void> {
  ctx.report(name, `growing ${disk} to ${size}`)
  await journaledTask(ctx, { op: 'resize', vmid: vm.vmid, node: vm.node, detail: `${disk}=${size}` }, [nodeKey(vm.node), storageKey(ctx, vm.node)], () =>
    ctx.client.put<string | null>(apiPath`/nodes/${vm.node}/qemu/${vm.vmid}/resize`, { disk, size }),
  )
}

export async function startVm(ctx: ActionContext, name: string, vm: LiveVm): Promise<void> {
  ctx.report(name, `starting on ${vm.node}`)
  await journaledTask(ctx, { op: 'start', vmid: vm.vmid, node: vm.node }, [nodeKey(vm.node)], () => ctx.client.post<string>(apiPath`/nodes/${vm.node}/qemu/${vm.vmid}/status/start`))
}

/**
 * ACPI shutdown with a timeout; if the guest does not go down, a hard stop. Takes no node slot:
 * a shutdown holds only its own VM's lock and no storage lock, so every guest of a node can go
 * down at once; the slots are kept for the deletes that follow (storage locks).
 */
export async function powerOff(ctx: ActionContext, name: string, vm: LiveVm, timeoutSeconds: number): Promise<void> {
  ctx.report(name, `shutting down (up to ${timeoutSeconds} s)`)
  try {
    await journaledTask(ctx, { op: 'shutdown', vmid: vm.vmid, node: vm.node }, [], () =>
      ctx.client.post<string>(apiPath`/nodes/${vm.node}/qemu/${vm.vmid}/status/shutdown`, { timeout: timeoutSeconds }),
    )
    return
  } catch (err) {
    if (!(err instanceof TaskFailedError) || lockedBy(errorText(err))) throw err
    ctx.report(name, `graceful shutdown failed (${(err.exitStatus ?? err.message).split('\n')[0]}), stopping`)
  }
  await journaledTask(ctx, { op: 'stop', vmid: vm.vmid, node: vm.node }, [], () => ctx.client.post<string>(apiPath`/nodes/${vm.node}/qemu/${vm.vmid}/status/stop`))
}

/** Delete with purge (backup jobs, replication, HA) and every vm-<id>-* volume. */
export async function destroyVm(ctx: ActionContext, name: string, vm: LiveVm): Promise<void> {
  ctx.report(name, `deleting VM ${vm.vmid} on ${vm.node}`)
  await journaledTask(ctx, { op: 'destroy', vmid: vm.vmid, node: vm.node, detail: name }, [nodeKey(vm.node), storageKey(ctx, vm.node)], () =>
    ctx.client.delete<string>(apiPath`/nodes/${vm.node}/qemu/${vm.vmid}`, { purge: 1, 'destroy-unreferenced-disks': 1 }),
  )
}

/** A volume left behind by a failed clone (its VM does not exist). */
export async function deleteVolume(ctx: ActionContext, v: Volume): Promise<void> {
  ctx.report(`vm-${v.vmid}`, `removing leftover volume ${v.volid}`)
  await journaledTask(ctx, { op: 'delete-volume', vmid: v.vmid, node: v.node, detail: v.volid }, [nodeKey(v.node), storageKey(ctx, v.node, v.storage)], () =>
    ctx.client.delete<string | null>(apiPath`/nodes/${v.node}/storage/${v.storage}/content/${v.volid}`),
  )
}
