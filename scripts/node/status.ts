#!/usr/bin/env node
// pve:node:status: nodes at a glance (load, memory, guests, HA maintenance, recorded evacuations).
import { z } from 'zod'
import { runCommand, outputOption } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { NotFoundError } from '../lib/errors.ts'
import { formatBytes, printOutput } from '../lib/output.ts'
import { journalPath, readJournal } from '../lib/node/plan.ts'
import { apiPath } from '../lib/pve/client.ts'
import { listResources } from '../lib/pve/resources.ts'

interface NodeRow {
  node: string
  status: string
  cpu: number
  maxcpu: number
  mem: number
  maxmem: number
  uptime: number
  guests: number
  running: number
  assignedMem: number
  ha?: string
  evacuation?: string
  pveversion?: string
  loadavg?: string[]
}

await runCommand({
  name: 'pve:node:status',
  summary: 'Status of every node (or one): CPU, memory, guests, HA maintenance, evacuation in progress',
  options: z.strictObject({
    node: z.string().min(1).optional().describe('only this node (adds version and load average)'),
    output: outputOption,
  }),
  async run(opts, cli) {
    const { config, client } = await openContext(cli)
    const [nodes, vms] = await Promise.all([listResources(client, 'node'), listResources(client, 'vm')])
    const ha = await client.get<{ type: string; node?: string; status?: string }[]>('/cluster/ha/status/current').catch(() => [])
    if (opts.node && !nodes.some((n) => n.node === opts.node)) throw new NotFoundError(`node '${opts.node}' is not in the cluster (nodes: ${nodes.map((n) => n.node).join(', ')})`)
    const rows: NodeRow[] = []
    for (const n of nodes.filter((x) => !opts.node || x.node === opts.node).sort((a, b) => String(a.node).localeCompare(String(b.node)))) {
      const name = n.node ?? ''
      const guests = vms.filter((v) => v.node === name && v.template !== 1)
      const running = guests.filter((v) => v.status === 'running')
      const lrm = ha.find((h) => h.type === 'lrm' && h.node === name)
      const journal = await readJournal(journalPath(config.cluster.name, name))
      const steps = journal ? Object.values(journal.steps) : []
      const row: NodeRow = {
        node: name,
        status: n.status ?? 'unknown',
        cpu: n.cpu ?? 0,
        maxcpu: n.maxcpu ?? 0,
        mem: n.mem ?? 0,
        maxmem: n.maxmem ?? 0,
        uptime: n.uptime ?? 0,
        guests: guests.length,
        running: running.length,
        assignedMem: running.reduce((s, v) => s + (v.maxmem ?? 0), 0),
        // lrm status reads "pve1 (active, <date>)" or "pve1 (maintenance mode, <date>)"
        ha: lrm?.status ? (/\(([^,)]+)/.exec(lrm.status)?.[1] ?? lrm.status) : undefined,
        evacuation: journal ? `${steps.filter((s) => s.status === 'done').length}/${steps.length} moved${journal.ha.enabled ? ', HA maintenance' : ''}` : undefined,
      }
      if (opts.node && row.status === 'online') {
        const st = await client.get<{ pveversion?: string; loadavg?: string[] }>(apiPath`/nodes/${name}/status`)
        row.pveversion = st.pveversion
        row.loadavg = st.loadavg
      }
      rows.push(row)
    }
    printOutput(opts.output, opts.node ? rows[0] : rows, rows, [
      { header: 'node', value: (r) => r.node },
      { header: 'status', value: (r) => r.status },
      { header: 'cpu', value: (r) => `${Math.round(r.cpu * 100)}% of ${r.maxcpu}`, align: 'right' },
      { header: 'memory', value: (r) => `${formatBytes(r.mem)} / ${formatBytes(r.maxmem)}`, align: 'right' },
      { header: 'assigned', value: (r) => formatBytes(r.assignedMem), align: 'right' },
      { header: 'guests', value: (r) => `${r.running}/${r.guests} running`, align: 'right' },
      { header: 'ha', value: (r) => r.ha },
      { header: 'evacuation', value: (r) => r.evacuation },
      ...(opts.node ? [{ header: 'version', value: (r: NodeRow) => r.pveversion }, { header: 'load', value: (r: NodeRow) => r.loadavg?.join(' ') }] : []),
    ])
  },
})
