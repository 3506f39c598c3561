// Which journal an apply continues: the one of the same plan (resume), or a new one. An earlier
// evacuation of the node that was applied but not returned must not be overwritten: its record is
// the only way back.
import { ConflictError } from '../errors.ts'
import { newJournal, type Journal, type Plan } from './plan.ts'

const key = (moves: Plan['moves']) => moves.map((m) => `${m.vmid}:${m.from}>${m.to}`).sort().join(',')

export function journalFor(plan: Plan, planFile: string, existing: Journal | undefined): { journal: Journal; resumed: boolean } {
  if (existing && key(existing.moves) === key(plan.moves)) return { journal: existing, resumed: true }
  const applied = existing ? Object.values(existing.steps).some((s) => s.status === 'done' || s.status === 'running') : false
  if (existing && applied)
    throw new ConflictError(`${plan.node} has an evacuation that was applied and not returned (from ${existing.planFile ?? 'another plan'})`, `return it first: task pve:node:return NODE=${plan.node}`)
  return { journal: newJournal(plan, planFile), resumed: false }
}
