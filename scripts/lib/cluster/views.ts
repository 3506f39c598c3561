// What plan, create and status print: one row per VM of the profile, with what exists.
import { printOutput, type OutputFormat } from '../output.ts'
import type { ClusterPlan, VmPlan } from './plan.ts'

const STATE_TEXT: Record<VmPlan['state'], string> = {
  missing: 'create',
  match: 'up to date',
  differ: 'change',
  busy: 'wait',
  broken: 'recreate (partial clone)',
  foreign: 'CONFLICT',
}

export function planSummary(plan: ClusterPlan): string {
  const count = (s: VmPlan['state']) => plan.vms.filter((v) => v.state === s).length
  const parts = [`${count('missing') + count('broken')} to create`, `${count('differ')} to change`, `${count('match')} up to date`]
  if (count('busy')) parts.push(`${count('busy')} busy`)
  if (count('foreign')) parts.push(`${count('foreign')} in conflict`)
  return parts.join(', ')
}

export function printPlan(plan: ClusterPlan, format: OutputFormat): void {
  const data = {
    vms: plan.vms.map((v) => ({
      name: v.desired.name,
      vmid: v.desired.vmid,
      role: v.desired.role,
      node: v.desired.node,
      placement: v.desired.placementReason,
      cores: v.desired.cores,
      memory: v.desired.memory,
      disk: v.desired.disk,
      ip: v.desired.ip ?? 'dhcp',
      state: v.state,
      changes: v.changes,
      note: v.note,
      drift: v.drift,
    })),
    extra: plan.extra.map((v) => ({ vmid: v.vmid, name: v.name, node: v.node })),
    warnings: plan.warnings,
  }
  printOutput(format, data, plan.vms, [
    { header: 'name', value: (v) => v.desired.name },
    { header: 'vmid', value: (v) => v.desired.vmid, align: 'right' },
    { header: 'role', value: (v) => v.desired.role },
    { header: 'node', value: (v) => (v.live && v.live.node !== v.desired.node ? `${v.live.node}→${v.desired.node}` : v.desired.node) },
    { header: 'cores', value: (v) => v.desired.cores, align: 'right' },
    { header: 'memory', value: (v) => `${v.desired.memory} MiB`, align: 'right' },
    { header: 'disk', value: (v) => v.desired.disk, align: 'right' },
    { header: 'ip', value: (v) => v.desired.ip ?? 'dhcp' },
    { header: 'action', value: (v) => STATE_TEXT[v.state] },
    { header: 'details', value: (v) => v.note ?? [...v.changes.filter((c) => c.field !== 'vm').map((c) => `${c.field}: ${c.from} → ${c.to}`), ...v.drift].join('; ') },
  ])
}
