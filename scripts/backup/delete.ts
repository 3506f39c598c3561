// pve:backup:delete — delete one backup volume (confirmed).
import { z } from 'zod'
import { runCommand, dryRunOption, outputOption, waitOption, yesOption } from '../lib/cli.ts'
import { formatBytes } from '../lib/output.ts'
import { confirmDestructive } from '../lib/prompts.ts'
import { deleteBackup, findBackup } from '../lib/vm/backup.ts'
import { openVmOps, printResult } from '../lib/vm/command.ts'

await runCommand({
  name: 'pve:backup:delete',
  summary: 'Delete a backup volume (confirmed)',
  options: z.strictObject({ volid: z.string().min(1).describe('the backup volume'), yes: yesOption, dryRun: dryRunOption, wait: waitOption, output: outputOption }),
  async run(o, cli) {
    const { ops } = await openVmOps(cli)
    const vol = await findBackup(ops.api, o.volid)
    const what = `backup ${vol.volid} (VM ${vol.vmid ?? '?'}, ${formatBytes(vol.size)}${vol.ctime ? `, ${new Date(vol.ctime * 1000).toISOString().slice(0, 19)}` : ''})`
    if (o.dryRun) return printResult(o.output, { ...vol, wouldDelete: true }, `dry run: would delete ${what}`)
    await confirmDestructive(`Delete ${what}? This cannot be undone.`, { yes: o.yes })
    await deleteBackup(ops, vol, { wait: o.wait })
    printResult(o.output, { ...vol, deleted: true }, `deleted ${what}`)
  },
})
