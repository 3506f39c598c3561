// pve:backup:jobs — the cluster's scheduled backup jobs (/cluster/backup).
import { z } from 'zod'
import { runCommand, outputOption } from '../lib/cli.ts'
import { printOutput } from '../lib/output.ts'
import { listBackupJobs } from '../lib/vm/backup.ts'
import { openVmOps } from '../lib/vm/command.ts'

await runCommand({
  name: 'pve:backup:jobs',
  summary: 'List scheduled backup jobs',
  options: z.strictObject({ output: outputOption }),
  async run(o, cli) {
    const { ops } = await openVmOps(cli)
    const jobs = await listBackupJobs(ops.api)
    printOutput(o.output, jobs, jobs, [
      { header: 'id', value: (j) => j.id },
      { header: 'schedule', value: (j) => j.schedule },
      { header: 'enabled', value: (j) => (j.enabled === 0 ? 'no' : 'yes') },
      { header: 'storage', value: (j) => j.storage },
      { header: 'guests', value: (j) => (j.all ? `all${j.exclude ? ` except ${j.exclude}` : ''}` : j.pool ? `pool ${j.pool}` : j.vmid) },
      { header: 'mode', value: (j) => j.mode },
      { header: 'next run', value: (j) => (j['next-run'] ? new Date(j['next-run'] * 1000).toISOString().replace('T', ' ').slice(0, 16) : '') },
      { header: 'comment', value: (j) => j.comment },
    ])
  },
})
