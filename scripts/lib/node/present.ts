// How plans and moves are shown: one table of moves, then what HA handles, what is blocked and
// what stays. Shared by evacuate, apply and return.
import { formatBytes, info, printOutput, type Column, type OutputFormat } from '../output.ts'
import type { EvacuationPlan, PlannedMove } from './plan.ts'
import type { MoveEvent } from './apply.ts'

export const moveColumns: Column<PlannedMove>[] = [
  { header: 'vmid', value: (m) => m.vmid, align: 'right' },
  { header: 'name', value: (m) => m.name },
  { header: 'from', value: (m) => m.from },
  { header: 'to', value: (m) => m.to },
  { header: 'mode', value: (m) => m.mode },
  { header: 'memory', value: (m) => formatBytes(m.memory), align: 'right' },
  { header: 'local disks', value: (m) => (m.diskBytes ? `${formatBytes(m.diskBytes)}${m.targetStorage ? ` → ${m.targetStorage}` : ''}` : '-') },
]

export function printPlan(format: OutputFormat, plan: EvacuationPlan): void {
  printOutput(format, plan, plan.moves, moveColumns)
  if (format !== 'table') return
  for (const g of plan.ha.guests) info(`HA: VM ${g.vmid} (${g.name}) moves through HA node maintenance (hastate ${g.hastate})`)
  for (const b of plan.blocked) info(`BLOCKED: VM ${b.vmid} (${b.name}): ${b.reason}`)
  for (const s of plan.skipped) info(`stays: VM ${s.vmid} (${s.name}): ${s.reason}`)
}

export function reportEvent(e: MoveEvent): void {
  const m = e.move
  if (e.kind === 'start') info(`→ VM ${m.vmid} (${m.name}): ${m.from} → ${m.to} (${m.mode})`)
  else if (e.kind === 'done') info(`✓ VM ${m.vmid} on ${m.to}${e.already ? ' (already there)' : ` after ${e.seconds.toFixed(1)} s`}`)
  else info(`✗ VM ${m.vmid}: ${e.error}`)
}
