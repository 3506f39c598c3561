// pve:snap:list — a VM's snapshots (the tool's own are marked).
import { z } from 'zod'
import { runCommand, outputOption, vmidSchema } from '../lib/cli.ts'
import { printOutput } from '../lib/output.ts'
import { openVmOps } from '../lib/vm/command.ts'
import { findVm } from '../lib/vm/context.ts'
import { listSnapshots } from '../lib/vm/snapshots.ts'
import { parseToolSnapshot } from '../lib/vm/snapshot-names.ts'

const when = (t?: number) => (t ? new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 19) : '')

await runCommand({
  name: 'pve:snap:list',
  summary: "List a VM's snapshots (OURS = created by this tool, prunable)",
  options: z.strictObject({ vmid: vmidSchema.describe('the VM'), output: outputOption }),
  async run(o, cli) {
    const { ops } = await openVmOps(cli)
    const snaps = await listSnapshots(ops, await findVm(ops.api, o.vmid))
    printOutput(o.output, snaps, snaps, [
      { header: 'name', value: (s) => s.name },
      { header: 'time', value: (s) => when(s.snaptime) },
      { header: 'ram', value: (s) => (s.vmstate ? 'yes' : 'no') },
      { header: 'parent', value: (s) => s.parent },
      { header: 'ours', value: (s) => (parseToolSnapshot(s.name) ? 'yes' : '') },
      { header: 'state', value: (s) => s.snapstate },
      { header: 'description', value: (s) => s.description?.split('\n')[0] },
    ])
  },
})
