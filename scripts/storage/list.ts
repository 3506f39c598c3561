#!/usr/bin/env node
// pve:storage:list: storages per node, or one line per storage cluster-wide (--cluster).
import { z } from 'zod'
import { runCommand, outputOption } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { formatBytes, printOutput } from '../lib/output.ts'
import { listResources } from '../lib/pve/resources.ts'
import { summarizeStorages, type StorageRow } from '../lib/storage/list.ts'

await runCommand({
  name: 'pve:storage:list',
  summary: 'Storages with type, content, used % and free space, per node (default) or cluster-wide',
  details: 'Cluster-wide, a shared storage counts once and a local one is summed over its nodes.',
  options: z.strictObject({
    cluster: z.boolean().default(false).describe('one line per storage for the whole cluster'),
    node: z.string().min(1).optional().describe('only this node'),
    content: z.string().min(1).optional().describe('only storages that hold this content (images, iso, backup, import...)'),
    output: outputOption,
  }),
  async run(opts, cli) {
    const { client } = await openContext(cli)
    const rows = (await listResources(client, 'storage'))
      .map((r): StorageRow => ({
        node: r.node ?? '',
        storage: r.storage ?? '',
        type: r.plugintype ?? '',
        content: (r.content ?? '').split(',').filter(Boolean).sort(),
        shared: r.shared === 1,
        status: r.status ?? 'unknown',
        used: r.disk ?? 0,
        total: r.maxdisk ?? 0,
      }))
      .filter((r) => (!opts.node || r.node === opts.node) && (!opts.content || r.content.includes(opts.content)))
    const view = opts.cluster ? summarizeStorages(rows) : rows.sort((a, b) => a.node.localeCompare(b.node) || a.storage.localeCompare(b.storage))
    printOutput(opts.output, view, view, [
      ...(opts.cluster ? [{ header: 'nodes', value: (r: StorageRow) => r.node }] : [{ header: 'node', value: (r: StorageRow) => r.node }]),
      { header: 'storage', value: (r) => r.storage },
      { header: 'type', value: (r) => r.type },
      { header: 'content', value: (r) => r.content.join(',') },
      { header: 'shared', value: (r) => (r.shared ? 'yes' : 'no') },
      { header: 'status', value: (r) => r.status },
      { header: 'used', value: (r) => (r.total ? `${((r.used / r.total) * 100).toFixed(1)}%` : '-'), align: 'right' },
      { header: 'free', value: (r) => formatBytes(r.total - r.used), align: 'right' },
      { header: 'total', value: (r) => formatBytes(r.total), align: 'right' },
    ])
  },
})
