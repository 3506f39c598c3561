// pve:bulk:shutdown — graceful shutdown of the selected VMs, optionally stopping stragglers.
import { z } from 'zod'
import { runBulkCommand } from '../lib/vm/bulk-command.ts'
import { powerVm, POWER_PRIVILEGE } from '../lib/vm/power.ts'
import { vmRequirements } from '../lib/vm/permissions.ts'

await runBulkCommand({
  name: 'pve:bulk:shutdown',
  summary: 'Shut down the VMs a selector matches (ACPI / guest agent), in parallel per node',
  details: 'Example: task pve:bulk:shutdown SELECTOR=@tag-staging -- --timeout 120 --force-stop',
  verb: 'shut down',
  options: {
    timeout: z.coerce.number().int().min(0).optional().describe('seconds to wait for each guest (PVE default 60)'),
    forceStop: z.boolean().default(false).describe('stop a VM that has not powered off after --timeout'),
  },
  spec: (o, { ops }) => ({
    verb: 'shut down',
    requirements: (vms) => vmRequirements(vms, POWER_PRIVILEGE),
    skip: (vm) => (vm.status === 'stopped' ? 'already stopped' : undefined),
    work: async (vm) => {
      const r = await powerVm(ops, vm, 'shutdown', { wait: true, timeout: o.timeout, forceStop: o.forceStop })
      return { result: r.result === 'skipped' ? 'skip' : 'shut down', detail: r.reason }
    },
  }),
})
