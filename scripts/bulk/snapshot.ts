// pve:bulk:snapshot — snapshot the selected VMs with one tool name (pm-[label-]<time>).
import { z } from 'zod'
import { runBulkCommand } from '../lib/vm/bulk-command.ts'
import { vmRequirements } from '../lib/vm/permissions.ts'
import { createSnapshot } from '../lib/vm/snapshots.ts'
import { toolSnapshotName } from '../lib/vm/snapshot-names.ts'

await runBulkCommand({
  name: 'pve:bulk:snapshot',
  summary: 'Snapshot the VMs a selector matches (name pm-[label-]<UTC time>, prunable)',
  details: 'Example: task pve:bulk:snapshot SELECTOR=@tag-db LABEL=before-upgrade',
  verb: 'snapshot',
  options: {
    label: z.string().optional().describe('label in the snapshot name (letters, digits, _)'),
    vmstate: z.boolean().default(false).describe('include RAM of running VMs'),
    description: z.string().optional().describe('snapshot description'),
  },
  spec: (o, { ops }) => {
    const name = toolSnapshotName(o.label)
    return {
      verb: 'snapshot',
      requirements: (vms) => vmRequirements(vms, 'VM.Snapshot'),
      detail: () => name,
      work: async (vm) => {
        await createSnapshot(ops, vm, name, { wait: true, vmstate: o.vmstate, description: o.description })
        return { result: 'snapshot taken', detail: name }
      },
    }
  },
})
