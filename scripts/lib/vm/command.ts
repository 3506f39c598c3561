// Glue between the entry scripts and the VM library: open the foundation's context, build the
// VmOps (client + task waiter + progress on stderr), and the option schemas the VM commands share.
import { z } from 'zod'
import type { GlobalFlags } from '../cli.ts'
import { openContext, type Context } from '../context.ts'
import { info, printOutput, type Column, type OutputFormat } from '../output.ts'
import { redact } from '../secrets.ts'
import { waitForTask } from '../pve/tasks.ts'
import type { BulkRow } from './bulk.ts'
import { DEFAULT_TASK_TIMEOUT_MS, type TaskWaiter, type VmOps } from './context.ts'
import { ActiveTaskWatch } from './task-watch.ts'
import { VmidAllocator } from './vmid.ts'

export const lockTimeoutOption = z.coerce.number().int().min(0).default(600).describe('seconds to wait for a transient lock (clone, backup, migrate...) to go away')
export const selectorOption = z.string().optional().describe("VMs: ids 100,101, ranges 100:110, names/globs web-*, @tag-x (AND), @node-x, @pool-x, @status-running, exclusions -101 -@tag-y")
export const allOption = z.boolean().default(false).describe('allow a selector that matches every VM (or none given)')

export interface VmCommandContext extends Context {
  ops: VmOps
}

export async function openVmOps(cli: GlobalFlags, opts: { lockTimeout?: number } = {}): Promise<VmCommandContext> {
  const ctx = await openContext(cli)
  const waitOne: TaskWaiter = (upid, o) => waitForTask(ctx.client, upid, { timeoutMs: o?.timeoutMs, onLog: o?.onLog })
  const ops: VmOps = {
    api: ctx.client,
    wait: new ActiveTaskWatch(ctx.client, waitOne).wait,
    log: info,
    lockTimeoutMs: (opts.lockTimeout ?? 600) * 1000,
    taskTimeoutMs: DEFAULT_TASK_TIMEOUT_MS,
  }
  return { ...ctx, ops }
}

/** The allocator for new VMs of this cluster: vmid_ranges.vms, never the template range. */
export const vmAllocator = (ctx: VmCommandContext) =>
  new VmidAllocator(ctx.ops.api, { range: ctx.config.vmid_ranges.vms, forbidden: [ctx.config.vmid_ranges.templates], cluster: ctx.config.cluster.name })

export const bulkColumns: Column<BulkRow>[] = [
  { header: 'vmid', value: (r) => r.vmid, align: 'right' },
  { header: 'name', value: (r) => r.name },
  { header: 'node', value: (r) => r.node },
  { header: 'status', value: (r) => r.status },
  { header: 'result', value: (r) => r.result },
  { header: 'detail', value: (r) => r.detail },
]

/** The plan of a bulk command: the result itself for --dry-run (stdout), else context on stderr. */
export function previewRows(format: OutputFormat) {
  return (rows: BulkRow[], dryRun: boolean) => {
    if (dryRun) printOutput(format, rows, rows, bulkColumns)
    else if (rows.length) info(`${rows.length} VM${rows.length === 1 ? '' : 's'} selected:\n${renderPlan(rows)}`)
  }
}

function renderPlan(rows: BulkRow[]): string {
  const cols = bulkColumns.filter((c) => c.header !== 'detail' || rows.some((r) => r.detail))
  const cells = rows.map((r) => cols.map((c) => String(c.value(r) ?? '-')))
  const widths = cols.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i].length)))
  const fmt = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd()
  return ['  ' + fmt(cols.map((c) => c.header.toUpperCase())), ...cells.map((r) => '  ' + fmt(r))].join('\n')
}

/** "1001 web-1, 1002 web-2, ... (12 VMs)" for confirmation prompts. */
export function vmList(vms: { vmid: number; name?: string }[], max = 10): string {
  const shown = vms.slice(0, max).map((v) => `${v.vmid}${v.name ? ` ${v.name}` : ''}`)
  return `${shown.join(', ')}${vms.length > max ? `, ... (${vms.length} VMs)` : ''}`
}

/** One-result commands: a sentence for people, the data for --output json|yaml. */
export function printResult(format: OutputFormat, data: unknown, sentence: string): void {
  if (format === 'table') process.stdout.write(redact(sentence) + '\n')
  else printOutput(format, data, [], [])
}
