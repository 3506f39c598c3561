// pve:snap:delete — delete one snapshot (confirmed).
import { z } from 'zod'
import { runCommand, dryRunOption, outputOption, vmidSchema, waitOption, yesOption } from '../lib/cli.ts'
import { confirmDestructive } from '../lib/prompts.ts'
import { lockTimeoutOption, openVmOps, printResult } from '../lib/vm/command.ts'
import { findVm } from '../lib/vm/context.ts'
import { deleteSnapshot, requireSnapshot } from '../lib/vm/snapshots.ts'

await runCommand({
  name: 'pve:snap:delete',
  summary: 'Delete a snapshot of a VM (confirmed)',
  options: z.strictObject({
    vmid: vmidSchema.describe('the VM'),
    name: z.string().min(1).describe('the snapshot'),
    yes: yesOption,
    dryRun: dryRunOption,
    wait: waitOption,
    lockTimeout: lockTimeoutOption,
    output: outputOption,
  }),
  async run(o, cli) {
    const { ops } = await openVmOps(cli, { lockTimeout: o.lockTimeout })
    const vm = await findVm(ops.api, o.vmid)
    const snap = await requireSnapshot(ops, vm, o.name)
    if (o.dryRun) return printResult(o.output, { vmid: vm.vmid, snapshot: snap.name, wouldDelete: true }, `dry run: would delete snapshot '${snap.name}' of VM ${vm.vmid}`)
    await confirmDestructive(`Delete snapshot '${snap.name}' of VM ${vm.vmid} (${vm.name ?? '-'})?`, { yes: o.yes })
    const { upid } = await deleteSnapshot(ops, vm, snap.name, { wait: o.wait })
    printResult(o.output, { vmid: vm.vmid, snapshot: snap.name, upid }, o.wait ? `VM ${vm.vmid}: snapshot '${snap.name}' deleted` : upid)
  },
})
