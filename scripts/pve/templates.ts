// task pve:templates: the VM templates of the cluster (what clones are made from).
import { z } from 'zod'
import { outputOption, runCommand } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { formatBytes, printOutput } from '../lib/output.ts'
import { listVms, type VmSummary } from '../lib/pve/resources.ts'

await runCommand({
  name: 'pve:templates',
  summary: 'List VM templates (VMID, name, node, size, tags)',
  options: z.strictObject({
    output: outputOption,
    node: z.string().min(1).optional().describe('only templates on this node'),
    tag: z.array(z.string().min(1)).default([]).describe('only templates carrying this tag (repeatable: all must match)'),
  }),
  async run(opts, cli) {
    const { client, config } = await openContext(cli)
    const templates = await listVms(client, { template: true, node: opts.node, tags: opts.tag })
    const range = config.vmid_ranges.templates
    printOutput(opts.output, templates, templates, [
      { header: 'vmid', value: (v: VmSummary) => v.vmid, align: 'right' },
      { header: 'name', value: (v) => v.name },
      { header: 'node', value: (v) => v.node },
      { header: 'cores', value: (v) => v.maxcpu, align: 'right' },
      { header: 'mem', value: (v) => formatBytes(v.maxmem), align: 'right' },
      { header: 'disk', value: (v) => formatBytes(v.maxdisk), align: 'right' },
      { header: 'tags', value: (v) => v.tags },
      { header: 'note', value: (v) => (v.vmid < range.min || v.vmid > range.max ? `outside vmid_ranges.templates (${range.min}-${range.max})` : undefined) },
    ])
  },
})
