// task pve:vm:config VMID=...: a VM's configuration, found on whichever node hosts it.
import { z } from 'zod'
import { outputOption, runCommand, vmidSchema } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { UsageError } from '../lib/errors.ts'
import { printOutput } from '../lib/output.ts'
import { apiPath } from '../lib/pve/client.ts'
import { resolveVmNode } from '../lib/pve/resources.ts'

await runCommand({
  name: 'pve:vm:config',
  summary: 'Show the configuration of a VM (pending changes applied, like the web UI)',
  details: 'Examples:\n  task pve:vm:config VMID=1031\n  task pve:vm:config VMID=1031 -- --current --output json\n  task pve:vm:config VMID=1031 -- --snapshot before-upgrade',
  options: z.strictObject({
    vmid: vmidSchema.describe('the VM'),
    output: outputOption,
    current: z.boolean().default(false).describe('the running values, without pending changes'),
    snapshot: z.string().min(1).optional().describe("a snapshot's configuration"),
  }),
  async run(opts, cli) {
    if (opts.current && opts.snapshot) throw new UsageError('--current and --snapshot cannot be combined')
    const { client } = await openContext(cli)
    const node = await resolveVmNode(client, opts.vmid)
    const config = await client.get<Record<string, unknown>>(apiPath`/nodes/${node}/qemu/${opts.vmid}/config`, { current: opts.current || undefined, snapshot: opts.snapshot })
    const rows = Object.entries(config)
      .sort(([a], [b]) => keyOrder(a) - keyOrder(b) || a.localeCompare(b, 'en', { numeric: true }))
      .map(([key, value]) => ({ key, value }))
    printOutput(opts.output, { vmid: opts.vmid, node, config }, rows, [
      { header: 'key', value: (r: { key: string; value: unknown }) => r.key },
      { header: 'value', value: (r) => (typeof r.value === 'string' ? r.value.replace(/\n/g, '\\n') : r.value) },
    ])
  },
})

// name first, digest last, the rest alphabetically (disks and NICs in numeric order)
function keyOrder(key: string): number {
  return key === 'name' ? 0 : key === 'digest' ? 2 : 1
}
