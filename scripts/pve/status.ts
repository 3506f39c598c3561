// task pve:status: cluster name, quorum, nodes online, per-node CPU, memory and uptime.
import { z } from 'zod'
import { outputOption, runCommand } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { formatBytes, formatDuration, formatPercent, printOutput, warn } from '../lib/output.ts'
import { redact } from '../lib/secrets.ts'
import { clusterStatus, type NodeStatus } from '../lib/pve/status.ts'

await runCommand({
  name: 'pve:status',
  summary: 'Show the cluster: name, quorum, nodes online, per-node CPU, memory and uptime',
  options: z.strictObject({ output: outputOption }),
  async run(opts, cli) {
    const { client } = await openContext(cli)
    const status = await clusterStatus(client)
    if (opts.output === 'table') {
      const c = status.cluster
      const head = c ? `cluster ${c.name}: ${c.quorate ? 'quorate' : 'NOT QUORATE'}, ${status.nodesOnline}/${status.nodes.length} nodes online` : `standalone node (no cluster), ${status.nodesOnline}/${status.nodes.length} online`
      process.stdout.write(redact(head) + '\n\n')
    }
    printOutput(opts.output, status, status.nodes, [
      { header: 'node', value: (n: NodeStatus) => n.node },
      { header: 'status', value: (n) => (n.online ? 'online' : 'OFFLINE') },
      { header: 'ip', value: (n) => n.ip },
      { header: 'cpu', value: (n) => (n.online ? `${formatPercent(n.cpu)} of ${n.maxcpu}` : undefined), align: 'right' },
      { header: 'memory', value: (n) => (n.online ? `${formatBytes(n.mem)} / ${formatBytes(n.maxmem)}` : undefined), align: 'right' },
      { header: 'uptime', value: (n) => (n.online ? formatDuration(n.uptime) : undefined), align: 'right' },
    ])
    if (status.cluster && !status.cluster.quorate) warn('the cluster has no quorum: most changes will fail until it is restored')
    for (const n of status.nodes.filter((x) => !x.online)) warn(`node ${n.node} is offline`)
  },
})
