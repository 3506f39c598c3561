// pve:vm:clone — clone a template into a new VM (VMID allocated unless given), on any node.
import { z } from 'zod'
import { runCommand, outputOption, vmidSchema } from '../lib/cli.ts'
import { lockTimeoutOption, openVmOps, printResult, vmAllocator } from '../lib/vm/command.ts'
import { cloneVm } from '../lib/vm/clone.ts'

await runCommand({
  name: 'pve:vm:clone',
  summary: 'Clone a template into a new VM (VMID allocated from vmid_ranges.vms unless given)',
  details: `For another node (--target) the tool uses that node's copy of the template if there is one,
clones with PVE's target when the template's disks are shared, else full-clones locally and migrates.
Example: task pve:vm:clone TEMPLATE=101 NAME=web-1 TARGET=pve2`,
  options: z.strictObject({
    template: z.string().min(1).describe('template VMID or name'),
    name: z.string().min(1).describe('name of the new VM (a DNS name)'),
    vmid: vmidSchema.optional().describe('VMID of the new VM (default: the next free one in vmid_ranges.vms)'),
    target: z.string().min(1).optional().describe('node the new VM should run on (default: the template\'s node)'),
    full: z.boolean().optional().describe('full clone (default: linked clone of a template; always full when moved to another node)'),
    storage: z.string().min(1).optional().describe('storage for a full clone\'s disks'),
    pool: z.string().min(1).optional().describe('resource pool to add the VM to'),
    tag: z.array(z.string()).default([]).describe('extra tags (repeatable); the ownership tag is always added'),
    lockTimeout: lockTimeoutOption,
    output: outputOption,
  }),
  async run(o, cli) {
    const ctx = await openVmOps(cli, { lockTimeout: o.lockTimeout })
    const res = await cloneVm(
      ctx.ops,
      { template: o.template, name: o.name, vmid: o.vmid, target: o.target, full: o.full, storage: o.storage, pool: o.pool, tags: o.tag },
      { allocator: vmAllocator(ctx), templateRange: ctx.config.vmid_ranges.templates, managedTag: ctx.config.tags.managed, templatesTag: ctx.config.tags.templates },
    )
    printResult(o.output, res, `VM ${res.vmid} (${res.name}) cloned from template ${res.template} on ${res.node}`)
  },
})
