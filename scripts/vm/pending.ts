// pve:vm:pending — config changes waiting for a restart (PVE's [PENDING] section).
import { z } from 'zod'
import { runCommand, outputOption, vmidSchema } from '../lib/cli.ts'
import { printOutput } from '../lib/output.ts'
import { qemuPath } from '../lib/vm/api.ts'
import { openVmOps } from '../lib/vm/command.ts'
import { findVm } from '../lib/vm/context.ts'

interface PendingRow {
  key: string
  value?: unknown
  pending?: unknown
  delete?: number
}

await runCommand({
  name: 'pve:vm:pending',
  summary: 'Show config changes that wait for the VM to restart',
  options: z.strictObject({ vmid: vmidSchema.describe('the VM'), all: z.boolean().default(false).describe('list every key, not only pending ones'), output: outputOption }),
  async run(o, cli) {
    const { ops } = await openVmOps(cli)
    const vm = await findVm(ops.api, o.vmid)
    const rows = await ops.api.get<PendingRow[]>(qemuPath(vm.node, vm.vmid, '/pending'))
    const shown = (o.all ? rows : rows.filter((r) => r.pending !== undefined || r.delete)).sort((a, b) => a.key.localeCompare(b.key))
    printOutput(o.output, shown, shown, [
      { header: 'key', value: (r) => r.key },
      { header: 'current', value: (r) => r.value },
      { header: 'pending', value: (r) => (r.delete ? '(delete)' : r.pending) },
    ])
  },
})
