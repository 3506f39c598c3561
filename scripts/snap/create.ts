// pve:snap:create — snapshot a VM; without NAME the tool's prunable name pm-[label-]<time> is used.
import { z } from 'zod'
import { runCommand, outputOption, vmidSchema, waitOption } from '../lib/cli.ts'
import { lockTimeoutOption, openVmOps, printResult } from '../lib/vm/command.ts'
import { findVm } from '../lib/vm/context.ts'
import { createSnapshot } from '../lib/vm/snapshots.ts'
import { toolSnapshotName } from '../lib/vm/snapshot-names.ts'

await runCommand({
  name: 'pve:snap:create',
  summary: 'Take a snapshot of a VM (default name pm-[label-]<UTC time>, prunable by pve:snap:prune)',
  options: z.strictObject({
    vmid: vmidSchema.describe('the VM'),
    name: z.string().optional().describe('snapshot name (default: pm-[label-]<YYYYMMDDhhmmss>)'),
    label: z.string().optional().describe('label for the generated name, e.g. daily'),
    vmstate: z.boolean().default(false).describe('include RAM (the VM resumes where it was on rollback)'),
    description: z.string().optional().describe('snapshot description'),
    wait: waitOption,
    lockTimeout: lockTimeoutOption,
    output: outputOption,
  }),
  async run(o, cli) {
    const name = o.name ?? toolSnapshotName(o.label)
    const { ops } = await openVmOps(cli, { lockTimeout: o.lockTimeout })
    const vm = await findVm(ops.api, o.vmid)
    const { upid } = await createSnapshot(ops, vm, name, { wait: o.wait, vmstate: o.vmstate, description: o.description })
    printResult(o.output, { vmid: vm.vmid, name, upid }, o.wait ? `VM ${vm.vmid}: snapshot '${name}' created` : upid)
  },
})
