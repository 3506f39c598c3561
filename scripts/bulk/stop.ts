// pve:bulk:stop — hard-stop the selected VMs (confirmed), in parallel per node.
import { runBulkCommand } from '../lib/vm/bulk-command.ts'
import { powerVm, POWER_PRIVILEGE } from '../lib/vm/power.ts'
import { vmRequirements } from '../lib/vm/permissions.ts'

await runBulkCommand({
  name: 'pve:bulk:stop',
  summary: 'Stop the VMs a selector matches immediately (confirmed; prefer pve:bulk:shutdown)',
  verb: 'stop',
  destructive: 'confirm',
  options: {},
  spec: (_o, { ops }) => ({
    verb: 'stop',
    requirements: (vms) => vmRequirements(vms, POWER_PRIVILEGE),
    skip: (vm) => (vm.status === 'stopped' ? 'already stopped' : undefined),
    work: async (vm) => {
      const r = await powerVm(ops, vm, 'stop', { wait: true })
      return { result: r.result === 'skipped' ? 'skip' : 'stopped', detail: r.reason }
    },
  }),
})
