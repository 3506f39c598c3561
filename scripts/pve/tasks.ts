// task pve:tasks: recent and running PVE tasks of the whole cluster, newest first.
import { z } from 'zod'
import { outputOption, runCommand, vmidSchema } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { formatDuration, printOutput } from '../lib/output.ts'
import { isRunning, listClusterTasks, type ClusterTask } from '../lib/pve/tasks.ts'

const time = (epoch: number) => new Date(epoch * 1000).toISOString().replace('T', ' ').slice(0, 19)

await runCommand({
  name: 'pve:tasks',
  summary: 'List recent and running PVE tasks (newest first)',
  details: 'Examples:\n  task pve:tasks -- --running\n  task pve:tasks -- --errors --node pve01\n  task pve:tasks -- --vmid 1031 --type qmclone',
  options: z.strictObject({
    output: outputOption,
    running: z.boolean().optional().describe('only running tasks (--no-running: only finished)'),
    errors: z.boolean().default(false).describe('only failed tasks'),
    node: z.string().optional().describe('only tasks of this node'),
    vmid: vmidSchema.optional().describe('only tasks of this VM'),
    type: z.string().optional().describe('only this task type (qmstart, qmclone, vzdump...)'),
    limit: z.coerce.number().int().positive().default(50).describe('at most this many'),
  }),
  async run(opts, cli) {
    const { client } = await openContext(cli)
    const tasks = await listClusterTasks(client, opts)
    const now = Date.now() / 1000
    printOutput(opts.output, tasks, tasks, [
      { header: 'started', value: (t: ClusterTask) => time(t.starttime) },
      { header: 'node', value: (t) => t.node },
      { header: 'type', value: (t) => t.type },
      { header: 'id', value: (t) => t.id },
      { header: 'user', value: (t) => (t.tokenid ? `${t.user}!${t.tokenid}` : t.user) },
      { header: 'status', value: (t) => (isRunning(t) ? 'running' : t.status) },
      { header: 'duration', value: (t) => formatDuration((t.endtime ?? now) - t.starttime), align: 'right' },
      { header: 'upid', value: (t) => t.upid },
    ])
  },
})
