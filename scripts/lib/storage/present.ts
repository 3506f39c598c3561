import { formatBytes, type Column } from '../output.ts'
import type { Orphan } from './orphans.ts'

export const orphanColumns: Column<Orphan>[] = [
  { header: 'kind', value: (o) => o.kind },
  { header: 'volid', value: (o) => o.volid },
  { header: 'node', value: (o) => o.node },
  { header: 'size', value: (o) => formatBytes(o.size), align: 'right' },
  { header: 'vmid', value: (o) => o.vmid, align: 'right' },
  { header: 'where', value: (o) => (o.kind === 'unused' ? `${o.key} of VM ${o.vmid}` : o.ownerExists ? `VM ${o.vmid} exists, does not use it` : 'owner VM gone') },
  { header: 'owned', value: (o) => (o.ownerManaged ? 'yes' : o.kind === 'unreferenced' && o.ownerExists === false ? 'nobody' : 'no') },
]
