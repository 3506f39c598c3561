// pve:vm:resize — grow a disk (never shrink).
import { z } from 'zod'
import { runCommand, dryRunOption, outputOption, vmidSchema, waitOption } from '../lib/cli.ts'
import { lockTimeoutOption, openVmOps, printResult } from '../lib/vm/command.ts'
import { findVm } from '../lib/vm/context.ts'
import { formatSize, resizeDisk } from '../lib/vm/resize.ts'

await runCommand({
  name: 'pve:vm:resize',
  summary: 'Grow a VM disk (+10G grows by, 50G grows to; shrinking is refused)',
  details: 'Example: task pve:vm:resize VMID=1031 SIZE=+50G. The guest must grow its filesystem (cloud-init does on boot).',
  options: z.strictObject({
    vmid: vmidSchema.describe('the VM'),
    disk: z.string().regex(/^(scsi|virtio|sata|ide|efidisk|tpmstate)\d+$/, 'a disk key such as scsi0').default('scsi0').describe('disk to grow'),
    size: z.string().min(1).describe('+<size> to grow by, or <size> to grow to (K, M, G, T)'),
    wait: waitOption,
    dryRun: dryRunOption,
    lockTimeout: lockTimeoutOption,
    output: outputOption,
  }),
  async run(o, cli) {
    const { ops } = await openVmOps(cli, { lockTimeout: o.lockTimeout })
    const vm = await findVm(ops.api, o.vmid)
    const { plan, upid } = await resizeDisk(ops, vm, o.disk, o.size, { wait: o.wait, dryRun: o.dryRun })
    const from = formatSize(plan.currentBytes)
    const to = formatSize(plan.targetBytes)
    const sentence = !plan.grow
      ? `VM ${vm.vmid} ${o.disk} is already ${from}; nothing to do`
      : o.dryRun
        ? `dry run: would grow VM ${vm.vmid} ${o.disk} from ${from} to ${to}`
        : !o.wait && upid
          ? upid
          : `VM ${vm.vmid} ${o.disk} grown from ${from} to ${to}`
    printResult(o.output, { vmid: vm.vmid, disk: o.disk, from, to, changed: plan.grow && !o.dryRun, upid }, sentence)
  },
})
