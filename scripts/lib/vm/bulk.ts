// The shape every bulk command shares: resolve the selector, show the VMs, stop for --dry-run,
// check privileges, confirm destructive work, run it in parallel under per-node limits, report
// one row per VM. The selector is refused before the first request when it is empty.
import { EXIT, PmError, type ExitCode } from '../errors.ts'
import { parseSelector, assertSelectorAllowed, requireSelection, type Selector } from '../selector.ts'
import type { VmResource } from './api.ts'
import { errorText } from './api.ts'
import { listVmResources, type VmOps } from './context.ts'
import { runBounded } from './executor.ts'
import { assertPrivileges, type Requirement } from './permissions.ts'

export interface BulkOptions {
  selector: string | undefined
  all: boolean
  dryRun: boolean
  /** Parallel operations per node (config limits.per_node). */
  perNode: number
}

export interface BulkRow {
  vmid: number
  name: string
  node: string
  status: string
  result: string
  detail?: string
}

export interface BulkSpec {
  /** Verb for messages: "start", "snapshot"... */
  verb: string
  /** The privileges the operation needs on the selected VMs. */
  requirements: (vms: VmResource[]) => Requirement[]
  /** Reads what the plan needs (e.g. each VM's snapshots) before skip/detail are asked. */
  prepare?: (vms: VmResource[]) => Promise<void>
  /** VMs with nothing to do are shown but not touched: return the reason. */
  skip?: (vm: VmResource) => string | undefined
  /** What will be done to this VM, for the plan (e.g. the snapshots to delete). */
  detail?: (vm: VmResource) => string | undefined
  /** Ask before acting (destructive operations). Receives the VMs that will be touched. */
  confirm?: (vms: VmResource[]) => Promise<void>
  /** The work for one VM; returns the result word for the report ("done", "dispatched"...). */
  work: (vm: VmResource) => Promise<{ result: string; detail?: string }>
  /** Shows the plan before anything happens (table on stderr or the dry-run output). */
  preview: (rows: BulkRow[], dryRun: boolean) => void
}

export interface BulkReport {
  rows: BulkRow[]
  failed: number
  firstError?: unknown
}

/** Parses and checks the selector without any request (empty/match-all refused unless --all). */
export function checkedSelector(text: string | undefined, all: boolean): Selector {
  const sel = parseSelector(text)
  assertSelectorAllowed(sel, { all })
  return sel
}

const row = (vm: VmResource, result: string, detail?: string): BulkRow => ({
  vmid: vm.vmid,
  name: vm.name ?? '',
  node: vm.node,
  status: vm.status ?? 'unknown',
  result,
  detail,
})

export async function runBulk(ops: VmOps, opts: BulkOptions, spec: BulkSpec): Promise<BulkReport> {
  const sel = checkedSelector(opts.selector, opts.all)
  const selection = requireSelection(sel, await listVmResources(ops.api), { all: opts.all })
  for (const t of selection.skippedTemplates) ops.log(`skipping template ${t.vmid} (${t.name ?? ''}): bulk operations never touch templates`)
  await spec.prepare?.(selection.vms)
  const skips = new Map(selection.vms.map((vm) => [vm.vmid, spec.skip?.(vm)]))
  const todo = selection.vms.filter((vm) => !skips.get(vm.vmid))
  const planned = selection.vms.map((vm) => {
    const skip = skips.get(vm.vmid)
    return row(vm, skip ? 'skip' : opts.dryRun ? `would ${spec.verb}` : spec.verb, skip ?? spec.detail?.(vm))
  })
  spec.preview(planned, opts.dryRun)
  if (!selection.vms.length) {
    ops.log(`no VM matches '${sel.source}'`)
    return { rows: [], failed: 0 }
  }
  if (opts.dryRun || !todo.length) return { rows: planned, failed: 0 }
  await assertPrivileges(ops.api, spec.requirements(todo))
  await spec.confirm?.(todo)
  const outcomes = await runBounded(todo, { perKey: opts.perNode, keyOf: (vm) => vm.node }, spec.work)
  const done = new Map(outcomes.map((o) => [o.item.vmid, o]))
  let failed = 0
  let firstError: unknown
  const rows = selection.vms.map((vm) => {
    const o = done.get(vm.vmid)
    if (!o) return row(vm, 'skip', skips.get(vm.vmid))
    if (o.ok) return row(vm, o.value.result, o.value.detail)
    failed++
    firstError ??= o.error
    return row(vm, 'failed', errorText(o.error).split('\n')[0])
  })
  return { rows, failed, firstError }
}

/** After the report is printed: a non-zero exit that carries the first failure's class. */
export function bulkFailure(report: BulkReport, verb: string): PmError | undefined {
  if (!report.failed) return undefined
  const code: ExitCode = report.firstError instanceof PmError ? report.firstError.exitCode : EXIT.taskFailed
  const total = report.rows.filter((r) => r.result !== 'skip').length
  return new PmError(`${verb}: ${report.failed} of ${total} VMs failed (see the table above)`, code)
}
