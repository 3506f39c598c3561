// VMID allocation that stays correct when many clones start at once, in one process or several.
// PVE reserves nothing (`/cluster/nextid` just answers), so: pick the lowest id of the range that
// is not in use and not claimed, claim it (in memory, and with an exclusive file for other
// processes on this machine), confirm it with `GET /cluster/nextid?vmid=N`, and let the caller
// treat "already exists" from the clone as "take the next one" (another host won the race).
import { mkdirSync, openSync, closeSync, writeSync, readFileSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConflictError } from '../errors.ts'
import type { PveApi, VmResource } from './api.ts'
import { errorText } from './api.ts'

export interface VmidRange {
  min: number
  max: number
}

export interface VmidAllocatorOptions {
  /** Where new VMs go (config vmid_ranges.vms). */
  range: VmidRange
  /** Ranges never to allocate from, e.g. vmid_ranges.templates. */
  forbidden?: VmidRange[]
  /** Directory of cross-process claims; default $TMPDIR/proxmox-manager-vmids/<cluster>. */
  claimDir?: string
  cluster?: string
  /** A claim older than this is considered abandoned (ms, default 10 min). */
  claimTtlMs?: number
}

/** `GET /cluster/nextid?vmid=N` says the id is taken: 400 {"vmid":"VM N already exists"}. */
export const isVmidTaken = (err: unknown) => /already exists/i.test(errorText(err))

/** Clone/create refused because the new id exists (sync 500 or inside the task). */
export const isAlreadyExists = (err: unknown) =>
  /config file already exists|VM \d+ already exists|unable to create VM \d+/i.test(errorText(err))

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export class VmidAllocator {
  private readonly api: PveApi
  private readonly opts: VmidAllocatorOptions
  private readonly claimDir: string
  private used: Set<number> | undefined
  private readonly claimed = new Set<number>()
  private loading: Promise<Set<number>> | undefined

  constructor(api: PveApi, opts: VmidAllocatorOptions) {
    if (opts.range.min > opts.range.max) throw new Error(`invalid VMID range ${opts.range.min}-${opts.range.max}`)
    this.api = api
    this.opts = opts
    this.claimDir = opts.claimDir ?? join(tmpdir(), 'proxmox-manager-vmids', (opts.cluster ?? 'default').replace(/[^\w.-]/g, '_'))
  }

  private async usedIds(): Promise<Set<number>> {
    if (this.used) return this.used
    this.loading ??= this.api.get<VmResource[]>('/cluster/resources', { type: 'vm' }).then((vms) => new Set(vms.map((v) => Number(v.vmid))))
    this.used = await this.loading
    return this.used
  }

  /** Records that an id exists (e.g. learned from an "already exists" error). */
  markUsed(vmid: number): void {
    this.used?.add(vmid)
  }

  private forbidden(vmid: number): boolean {
    return (this.opts.forbidden ?? []).some((r) => vmid >= r.min && vmid <= r.max)
  }

  private claimFile(vmid: number): boolean {
    mkdirSync(this.claimDir, { recursive: true, mode: 0o700 })
    const file = join(this.claimDir, String(vmid))
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx', 0o600)
        writeSync(fd, JSON.stringify({ pid: process.pid, at: Date.now() }))
        closeSync(fd)
        return true
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        let stale = true
        try {
          const claim = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; at: number }
          stale = !pidAlive(claim.pid) || Date.now() - claim.at > (this.opts.claimTtlMs ?? 600_000)
        } catch {
          stale = true // a half-written claim: its writer died mid-write
        }
        if (!stale) return false
        try {
          unlinkSync(file)
        } catch {
          // someone else removed it first; try again
        }
      }
    }
    return false
  }

  /** Allocates a free VMID of the range (claimed until release()). */
  async allocate(): Promise<number> {
    const used = await this.usedIds()
    const { min, max } = this.opts.range
    for (let vmid = min; vmid <= max; vmid++) {
      if (used.has(vmid) || this.claimed.has(vmid) || this.forbidden(vmid)) continue
      this.claimed.add(vmid) // synchronously, so concurrent allocate() calls never pick the same id
      if (!this.claimFile(vmid)) {
        this.claimed.delete(vmid)
        continue
      }
      try {
        await this.api.get('/cluster/nextid', { vmid })
        return vmid
      } catch (err) {
        this.release(vmid)
        if (!isVmidTaken(err)) throw err
        used.add(vmid)
      }
    }
    throw new ConflictError(`no free VMID left in ${min}-${max}`, 'widen vmid_ranges.vms in the cluster config, or delete unused VMs')
  }

  /** The VM now exists in PVE: keep the id out of this allocator for good and drop the claim. */
  commit(vmid: number): void {
    this.used?.add(vmid)
    this.release(vmid)
  }

  /** Drops the claim of an id that was not used after all. */
  release(vmid: number): void {
    if (!this.claimed.delete(vmid)) return
    try {
      unlinkSync(join(this.claimDir, String(vmid)))
    } catch {
      // already gone
    }
  }
}
