#!/usr/bin/env node
// pve:storage:content: what a storage holds (ISOs, disk images, backups, import images).
import { z } from 'zod'
import { runCommand, outputOption } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { NotFoundError } from '../lib/errors.ts'
import { formatBytes, printOutput } from '../lib/output.ts'
import { apiPath } from '../lib/pve/client.ts'
import { listResources } from '../lib/pve/resources.ts'

interface Item {
  node: string
  volid: string
  content: string
  format?: string
  size?: number
  vmid?: number
  ctime?: number
}

await runCommand({
  name: 'pve:storage:content',
  summary: 'List the content of a storage (on every node that has it; a shared storage once)',
  options: z.strictObject({
    storage: z.string().min(1).describe('storage id'),
    content: z.enum(['iso', 'images', 'backup', 'import', 'vztmpl', 'rootdir', 'snippets']).optional().describe('only this content type'),
    node: z.string().min(1).optional().describe('only this node'),
    output: outputOption,
  }),
  async run(opts, cli) {
    const { client } = await openContext(cli)
    const rows = (await listResources(client, 'storage')).filter((r) => r.storage === opts.storage && r.status === 'available' && (!opts.node || r.node === opts.node))
    if (!rows.length) throw new NotFoundError(`storage '${opts.storage}' is not available${opts.node ? ` on ${opts.node}` : ''}`, 'see task pve:storage:list')
    const nodes = rows[0].shared === 1 ? [rows[0].node ?? ''] : rows.map((r) => r.node ?? '')
    const items: Item[] = []
    for (const node of nodes.sort()) {
      const list = await client.get<Omit<Item, 'node'>[]>(apiPath`/nodes/${node}/storage/${opts.storage}/content`, { content: opts.content })
      items.push(...list.map((i) => ({ node, volid: i.volid, content: i.content, format: i.format, size: i.size, vmid: i.vmid, ctime: i.ctime })))
    }
    items.sort((a, b) => a.volid.localeCompare(b.volid) || a.node.localeCompare(b.node))
    printOutput(opts.output, items, items, [
      { header: 'node', value: (i) => i.node },
      { header: 'volid', value: (i) => i.volid },
      { header: 'content', value: (i) => i.content },
      { header: 'format', value: (i) => i.format },
      { header: 'size', value: (i) => formatBytes(i.size), align: 'right' },
      { header: 'vmid', value: (i) => i.vmid, align: 'right' },
      { header: 'created', value: (i) => (i.ctime ? new Date(i.ctime * 1000).toISOString().slice(0, 16).replace('T', ' ') : undefined) },
    ])
  },
})
