// pve:backup:restore — restore a backup as a new VM (new VMID unless given, unique MACs).
import { z } from 'zod'
import { runCommand, outputOption, vmidSchema, waitOption } from '../lib/cli.ts'
import { findBackup, restoreBackup } from '../lib/vm/backup.ts'
import { openVmOps, printResult, vmAllocator } from '../lib/vm/command.ts'

await runCommand({
  name: 'pve:backup:restore',
  summary: 'Restore a backup as a new VM (VMID allocated unless given; never over an existing VM)',
  details: 'Example: task pve:backup:restore VOLID=local:backup/vzdump-qemu-1001-2026_05_22-12_00_00.vma.zst',
  options: z.strictObject({
    volid: z.string().min(1).describe('the backup volume (see pve:backup:list)'),
    vmid: vmidSchema.optional().describe('VMID of the restored VM (default: next free in vmid_ranges.vms)'),
    storage: z.string().min(1).optional().describe('storage for the restored disks'),
    node: z.string().min(1).optional().describe('node to restore on (default: where the backup is)'),
    start: z.boolean().default(false).describe('start the VM afterwards'),
    wait: waitOption,
    output: outputOption,
  }),
  async run(o, cli) {
    const ctx = await openVmOps(cli)
    const vol = await findBackup(ctx.ops.api, o.volid)
    const res = await restoreBackup(ctx.ops, vol, { vmid: o.vmid, storage: o.storage, node: o.node, allocator: vmAllocator(ctx), wait: o.wait, start: o.start })
    printResult(o.output, { ...res, volid: vol.volid }, o.wait ? `restored ${vol.volid} as VM ${res.vmid} on ${res.node} (new MAC addresses)` : res.upid)
  },
})
