// Disk resize: grow only. PVE refuses a shrink inside its task; we refuse it before sending,
// with the sizes in the message, and treat "already that size" as done.
import { NotFoundError, RefusedError, UsageError } from '../errors.ts'
import { qemuPath, type VmResource } from './api.ts'
import { ensureUnlocked, getConfig, type VmOps } from './context.ts'
import { parsePropertyString } from './normalize.ts'
import { runVmTask } from './run-task.ts'

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }
const SIZE_RE = /^(\+?)(\d+(?:\.\d+)?)([KMGT]?)$/

/** Bytes of a PVE size (`32G`, `512M`, `+10G` → 10 GiB); binary units, no unit = bytes. */
export function parseSize(text: string): { relative: boolean; bytes: number } {
  const m = SIZE_RE.exec(text.trim())
  if (!m) throw new UsageError(`invalid size '${text}': use e.g. +10G (grow by) or 50G (grow to); units K, M, G, T`)
  return { relative: m[1] === '+', bytes: Math.round(Number(m[2]) * UNITS[m[3]]) }
}

export const formatSize = (bytes: number) => {
  for (const u of ['T', 'G', 'M', 'K']) if (bytes % UNITS[u] === 0 && bytes >= UNITS[u]) return `${bytes / UNITS[u]}${u}`
  return `${bytes}`
}

export interface ResizePlan {
  disk: string
  currentBytes: number
  targetBytes: number
  /** false when the disk already has the size. */
  grow: boolean
}

/** Decides the resize from the drive string (`local-lvm:vm-100-disk-0,size=32G`). */
export function planResize(vmid: number, disk: string, drive: string | undefined, size: string): ResizePlan {
  if (!drive) throw new NotFoundError(`VM ${vmid} has no disk ${disk}`, `see its disks with task pve:vm:config VMID=${vmid}`)
  const opts = parsePropertyString(drive)
  if (opts.get('media') === 'cdrom') throw new UsageError(`${disk} of VM ${vmid} is a CD-ROM drive: it cannot be resized`)
  const current = opts.get('size')
  if (!current) throw new UsageError(`${disk} of VM ${vmid} has no size in its config; cannot tell grow from shrink`)
  const currentBytes = parseSize(current).bytes
  const want = parseSize(size)
  const targetBytes = want.relative ? currentBytes + want.bytes : want.bytes
  if (targetBytes < currentBytes) {
    throw new RefusedError(
      `shrinking disks is not supported: ${disk} of VM ${vmid} is ${formatSize(currentBytes)}, asked for ${formatSize(targetBytes)}`,
      `disks can only grow; use +<size> to add space (e.g. SIZE=+10G)`,
    )
  }
  return { disk, currentBytes, targetBytes, grow: targetBytes > currentBytes }
}

export async function resizeDisk(ops: VmOps, vm: VmResource, disk: string, size: string, opts: { wait: boolean; dryRun: boolean }) {
  const config = await getConfig(ops.api, vm)
  const plan = planResize(vm.vmid, disk, config[disk] as string | undefined, size)
  if (!plan.grow || opts.dryRun) return { plan, upid: undefined }
  if (vm.lock) await ensureUnlocked(ops, vm)
  const res = await runVmTask(
    ops,
    async () => {
      // PVE < 8 answered null (synchronous); since 8.0 it is a task.
      const upid = await ops.api.put<string | null>(qemuPath(vm.node, vm.vmid, '/resize'), { disk, size: formatSize(plan.targetBytes), digest: config.digest as string })
      return upid ?? ''
    },
    { vmid: vm.vmid, wait: false },
  )
  if (res.upid && opts.wait) await ops.wait(res.upid, { timeoutMs: ops.taskTimeoutMs })
  return { plan, upid: res.upid || undefined }
}
