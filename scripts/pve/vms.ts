// task pve:vms: every QEMU VM of the cluster from one /cluster/resources call, filtered locally.
import { z } from 'zod'
import { outputOption, runCommand } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { formatBytes, formatPercent, printOutput } from '../lib/output.ts'
import { listVms, type VmSummary } from '../lib/pve/resources.ts'

const vmColumns = [
  { header: 'vmid', value: (v: VmSummary) => v.vmid, align: 'right' as const },
  { header: 'name', value: (v: VmSummary) => v.name },
  { header: 'node', value: (v: VmSummary) => v.node },
  { header: 'status', value: (v: VmSummary) => (v.template ? 'template' : v.status) },
  { header: 'cpu', value: (v: VmSummary) => (v.status === 'running' ? `${formatPercent(v.cpu)} of ${v.maxcpu}` : `${v.maxcpu}`), align: 'right' as const },
  { header: 'mem', value: (v: VmSummary) => (v.status === 'running' ? `${formatBytes(v.mem)} / ${formatBytes(v.maxmem)}` : formatBytes(v.maxmem)), align: 'right' as const },
  { header: 'tags', value: (v: VmSummary) => v.tags },
  { header: 'lock', value: (v: VmSummary) => v.lock },
]

await runCommand({
  name: 'pve:vms',
  summary: 'List the VMs of the cluster',
  details: 'Filters combine (AND); --tag repeats and every tag must be present.\nExamples:\n  task pve:vms -- --status running --node pve01\n  task pve:vms -- --tag k8s --tag staging --output json\n  task pve:vms -- --no-template',
  options: z.strictObject({
    output: outputOption,
    status: z.enum(['running', 'stopped', 'paused']).optional().describe('only VMs in this state'),
    node: z.string().min(1).optional().describe('only VMs on this node'),
    tag: z.array(z.string().min(1)).default([]).describe('only VMs carrying this tag (repeatable: all must match)'),
    template: z.boolean().optional().describe('only templates (--no-template: no templates)'),
  }),
  async run(opts, cli) {
    const { client } = await openContext(cli)
    const vms = await listVms(client, { status: opts.status, node: opts.node, tags: opts.tag, template: opts.template })
    printOutput(opts.output, vms, vms, vmColumns)
  },
})
