// pve:bulk:start — start every selected VM that is not running, in parallel per node.
import { runBulkCommand } from '../lib/vm/bulk-command.ts'
import { powerVm, POWER_PRIVILEGE } from '../lib/vm/power.ts'
import { vmRequirements } from '../lib/vm/permissions.ts'

await runBulkCommand({
  name: 'pve:bulk:start',
  summary: 'Start the VMs a selector matches (running ones are left alone)',
  details: 'Example: task pve:bulk:start SELECTOR=@tag-k8s,@node-pve1',
  verb: 'start',
  options: {},
  spec: (_o, { ops }) => ({
    verb: 'start',
    requirements: (vms) => vmRequirements(vms, POWER_PRIVILEGE),
    skip: (vm) => (vm.status === 'running' ? 'already running' : undefined),
    work: async (vm) => {
      const r = await powerVm(ops, vm, 'start', { wait: true })
      return { result: r.result === 'skipped' ? 'skip' : 'started', detail: r.reason }
    },
  }),
})
