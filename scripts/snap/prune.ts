// pve:snap:prune — delete old snapshots this tool created (pm-[label-]<time>), keeping KEEP per
// label on each selected VM. Snapshots with any other name are never touched.
import { z } from 'zod'
import type { VmResource } from '../lib/vm/api.ts'
import { runBulkCommand } from '../lib/vm/bulk-command.ts'
import { runBounded } from '../lib/vm/executor.ts'
import { vmRequirements } from '../lib/vm/permissions.ts'
import { deleteSnapshot, listSnapshots } from '../lib/vm/snapshots.ts'
import { assertLabel, planPrune, type SnapshotInfo } from '../lib/vm/snapshot-names.ts'

await runBulkCommand({
  name: 'pve:snap:prune',
  summary: "Delete this tool's old snapshots (pm-...), keeping the newest KEEP per label (confirmed)",
  details: 'Example: task pve:snap:prune SELECTOR=@tag-db KEEP=3 LABEL=daily',
  verb: 'prune snapshots of',
  destructive: 'confirm',
  options: {
    keep: z.coerce.number().int().min(0).describe('snapshots to keep per VM and label'),
    label: z.string().optional().describe('only snapshots with this label'),
  },
  spec: (o, { ops, config }) => {
    if (o.label) assertLabel(o.label)
    const doomed = new Map<number, SnapshotInfo[]>()
    return {
      verb: 'prune',
      requirements: (vms) => vmRequirements(vms, 'VM.Snapshot'),
      prepare: async (vms: VmResource[]) => {
        const read = await runBounded(vms, { perKey: config.limits.per_node, keyOf: (v) => v.node }, async (vm) => planPrune(await listSnapshots(ops, vm), o.keep, o.label))
        for (const r of read) {
          if (!r.ok) throw r.error
          doomed.set(r.item.vmid, r.value)
        }
      },
      skip: (vm) => (doomed.get(vm.vmid)?.length ? undefined : 'nothing to prune'),
      detail: (vm) => `delete ${doomed.get(vm.vmid)!.map((s) => s.name).join(', ')}`,
      work: async (vm) => {
        // one VM's snapshots one after another: each delete holds the VM's lock
        for (const snap of doomed.get(vm.vmid)!) await deleteSnapshot(ops, vm, snap.name, { wait: true })
        return { result: 'pruned', detail: `${doomed.get(vm.vmid)!.length} deleted` }
      },
    }
  },
})
