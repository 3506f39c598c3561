// pve:bulk:delete — delete the selected VMs and their disks (typed confirmation). Any VM the
// delete rules refuse (template, template range, protected, not ours) stops the whole operation.
import { z } from 'zod'
import { RefusedError } from '../lib/errors.ts'
import { runBulkCommand } from '../lib/vm/bulk-command.ts'
import { deleteRefusal, deleteVm, describeForDelete, type DeleteCandidate, type DeletePolicy } from '../lib/vm/delete.ts'
import { runBounded } from '../lib/vm/executor.ts'
import { vmRequirements } from '../lib/vm/permissions.ts'

await runBulkCommand({
  name: 'pve:bulk:delete',
  summary: 'Delete the VMs a selector matches, with their disks (typed confirmation)',
  details: 'Refused as a whole if any selected VM is protected or not created by this tool (see --include-unowned).',
  verb: 'delete',
  destructive: 'typed',
  options: {
    includeUnowned: z.boolean().default(false).describe('also delete VMs this tool did not create (no ownership tag)'),
  },
  spec: (o, { ops, config }) => {
    const policy: DeletePolicy = { templateRange: config.vmid_ranges.templates, managedTag: config.tags.managed, forceProtected: false, includeUnowned: o.includeUnowned }
    const candidates = new Map<number, DeleteCandidate>()
    return {
      verb: 'delete',
      requirements: (vms) => [...vmRequirements(vms, 'VM.Allocate'), ...vmRequirements(vms.filter((v) => v.status === 'running'), 'VM.PowerMgmt')],
      prepare: async (vms) => {
        const read = await runBounded(vms, { perKey: config.limits.per_node, keyOf: (v) => v.node }, (vm) => describeForDelete(ops, vm))
        for (const r of read) {
          if (!r.ok) throw r.error
          candidates.set(r.item.vmid, r.value)
        }
        const refused = [...candidates.values()].flatMap((c) => deleteRefusal(c, policy) ?? [])
        if (refused.length) throw new RefusedError(`refusing to delete any of the selected VMs:\n  ${refused.join('\n  ')}`, 'narrow the selector (e.g. add -<vmid> exclusions)')
      },
      detail: (vm) => {
        const c = candidates.get(vm.vmid)
        return c ? `${c.disks.length} disk(s)${c.status === 'running' ? ', stops it first' : ''}` : undefined
      },
      work: async (vm) => {
        await deleteVm(ops, vm, candidates.get(vm.vmid)!, policy)
        return { result: 'deleted' }
      },
    }
  },
})
