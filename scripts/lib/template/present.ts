import type { Column } from '../output.ts'
import type { NodeResult } from './create.ts'

export const resultColumns: Column<NodeResult>[] = [
  { header: 'node', value: (r) => r.node },
  { header: 'vmid', value: (r) => (r.vmid || '(next free)'), align: 'right' },
  { header: 'name', value: (r) => r.name },
  { header: 'action', value: (r) => r.action },
  { header: 'image', value: (r) => r.image },
]
