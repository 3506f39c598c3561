// pve:snap:rollback — return a VM to a snapshot (confirmed: everything since is lost).
import { z } from 'zod'
import { runCommand, dryRunOption, outputOption, vmidSchema, waitOption, yesOption } from '../lib/cli.ts'
import { info } from '../lib/output.ts'
import { confirmDestructive } from '../lib/prompts.ts'
import { lockTimeoutOption, openVmOps, printResult } from '../lib/vm/command.ts'
import { findVm } from '../lib/vm/context.ts'
import { listSnapshots, newerSnapshots, requireSnapshot, rollbackSnapshot } from '../lib/vm/snapshots.ts'

await runCommand({
  name: 'pve:snap:rollback',
  summary: 'Roll a VM back to a snapshot (confirmed; a running VM is stopped first by PVE)',
  options: z.strictObject({
    vmid: vmidSchema.describe('the VM'),
    name: z.string().min(1).describe('the snapshot'),
    start: z.boolean().default(false).describe('start the VM after the rollback'),
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
    const newer = newerSnapshots(await listSnapshots(ops, vm), snap)
    const lines = [`VM ${vm.vmid} (${vm.name ?? '-'}) on ${vm.node}, ${vm.status}: roll back to '${snap.name}'${snap.snaptime ? ` of ${new Date(snap.snaptime * 1000).toISOString()}` : ''}`]
    lines.push('  every change to the disks since then is lost')
    if (vm.status === 'running' && !snap.vmstate) lines.push('  the VM is running: PVE stops it hard before the rollback')
    if (newer.length) lines.push(`  newer snapshots (kept, but some storages such as ZFS refuse to roll back past them): ${newer.map((s) => s.name).join(', ')}`)
    info(lines.join('\n'))
    if (o.dryRun) return printResult(o.output, { vmid: vm.vmid, snapshot: snap.name, wouldRollback: true }, `dry run: would roll VM ${vm.vmid} back to '${snap.name}'`)
    await confirmDestructive(`Roll VM ${vm.vmid} (${vm.name ?? '-'}) back to '${snap.name}'?`, { yes: o.yes })
    const { upid } = await rollbackSnapshot(ops, vm, snap.name, { wait: o.wait, start: o.start })
    printResult(o.output, { vmid: vm.vmid, snapshot: snap.name, upid }, o.wait ? `VM ${vm.vmid} rolled back to '${snap.name}'` : upid)
  },
})
