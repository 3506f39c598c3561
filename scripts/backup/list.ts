// pve:backup:list — backup volumes on the backup storages (optionally one storage / one VM).
import { z } from 'zod'
import { runCommand, outputOption, vmidSchema } from '../lib/cli.ts'
import { formatBytes, printOutput } from '../lib/output.ts'
import { listBackups } from '../lib/vm/backup.ts'
import { openVmOps } from '../lib/vm/command.ts'

await runCommand({
  name: 'pve:backup:list',
  summary: 'List backups (vzdump archives) on the backup storages',
  options: z.strictObject({ storage: z.string().min(1).optional().describe('only this storage'), vmid: vmidSchema.optional().describe('only this VM'), output: outputOption }),
  async run(o, cli) {
    const { ops } = await openVmOps(cli)
    const rows = await listBackups(ops.api, { storage: o.storage, vmid: o.vmid })
    printOutput(o.output, rows, rows, [
      { header: 'volid', value: (r) => r.volid },
      { header: 'vmid', value: (r) => r.vmid, align: 'right' },
      { header: 'size', value: (r) => formatBytes(r.size), align: 'right' },
      { header: 'created', value: (r) => (r.ctime ? new Date(r.ctime * 1000).toISOString().replace('T', ' ').slice(0, 19) : '') },
      { header: 'node', value: (r) => r.node },
      { header: 'protected', value: (r) => (r.protected ? 'yes' : '') },
      { header: 'notes', value: (r) => r.notes?.split('\n')[0] },
    ])
  },
})
