// pve:vm:delete — show the VM and its disks, refuse what may not be deleted, confirm, stop it,
// delete with purge + destroy-unreferenced-disks, and verify it is gone.
import { z } from 'zod'
import { runCommand, dryRunOption, outputOption, vmidSchema, yesOption } from '../lib/cli.ts'
import { info } from '../lib/output.ts'
import { confirmDestructive, confirmTyped } from '../lib/prompts.ts'
import { lockTimeoutOption, openVmOps, printResult } from '../lib/vm/command.ts'
import { findVm } from '../lib/vm/context.ts'
import { assertDeletable, deleteVm, describeForDelete, type DeletePolicy } from '../lib/vm/delete.ts'

await runCommand({
  name: 'pve:vm:delete',
  summary: 'Delete a VM and all its disks (confirmed; stops it first)',
  details: `Refuses templates, VMIDs in vmid_ranges.templates, protected VMs (unless --force-protected,
confirmed separately) and VMs without the ownership tag (unless --include-unowned).`,
  options: z.strictObject({
    vmid: vmidSchema.describe('the VM to delete'),
    yes: yesOption,
    dryRun: dryRunOption,
    forceProtected: z.boolean().default(false).describe('clear protection=1 and delete anyway (asked separately)'),
    includeUnowned: z.boolean().default(false).describe('also delete a VM this tool did not create (no ownership tag)'),
    lockTimeout: lockTimeoutOption,
    output: outputOption,
  }),
  async run(o, cli) {
    const { ops, config } = await openVmOps(cli, { lockTimeout: o.lockTimeout })
    const vm = await findVm(ops.api, o.vmid)
    const c = await describeForDelete(ops, vm)
    const policy: DeletePolicy = {
      templateRange: config.vmid_ranges.templates,
      managedTag: config.tags.managed,
      forceProtected: o.forceProtected,
      includeUnowned: o.includeUnowned,
    }
    info(
      [
        `VM ${c.vmid} (${c.name ?? '-'}) on ${c.node}, ${c.status}${c.protection ? ', PROTECTED' : ''}`,
        `  tags:  ${c.tags || '-'}`,
        `  disks: ${c.disks.length ? c.disks.join('\n         ') : '-'}`,
      ].join('\n'),
    )
    assertDeletable(c, policy)
    if (o.dryRun) {
      printResult(o.output, { ...c, wouldDelete: true }, `dry run: would ${c.status === 'running' ? 'stop and ' : ''}delete VM ${c.vmid} and ${c.disks.length} disk(s)`)
      return
    }
    if (c.protection) await confirmTyped(`VM ${c.vmid} is protected (protection=1). Clearing protection to delete it.`, String(c.vmid), { yes: o.yes })
    await confirmDestructive(`Delete VM ${c.vmid} (${c.name ?? '-'}) on ${c.node}${c.status === 'running' ? ' (it will be stopped)' : ''} and its ${c.disks.length} disk(s)? This cannot be undone.`, { yes: o.yes })
    const upid = await deleteVm(ops, vm, c, policy)
    printResult(o.output, { vmid: c.vmid, name: c.name, node: c.node, deleted: true, upid }, `VM ${c.vmid} (${c.name ?? '-'}) deleted`)
  },
})
