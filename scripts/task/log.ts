// pve:task:log — a task's log by UPID; --follow streams it until the task ends.
import { z } from 'zod'
import { runCommand } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { redact } from '../lib/secrets.ts'
import { decodeUpid, readTaskLog, waitForTask } from '../lib/pve/tasks.ts'

await runCommand({
  name: 'pve:task:log',
  summary: 'Print the log of a PVE task (--follow: stream it until the task ends)',
  options: z.strictObject({
    upid: z.string().min(1).describe('the task id (UPID:...)'),
    follow: z.boolean().default(false).describe('keep printing new lines until the task ends; exit code follows the task'),
    timeout: z.coerce.number().int().min(1).default(3600).describe('with --follow: seconds to follow before giving up'),
  }),
  async run(o, cli) {
    const upid = decodeUpid(o.upid)
    const { client } = await openContext(cli)
    const print = (line: string) => process.stdout.write(redact(line) + '\n')
    if (!o.follow) {
      const lines = await readTaskLog(client, upid)
      for (const l of lines) print(l.t)
      return
    }
    await waitForTask(client, upid.upid, { timeoutMs: o.timeout * 1000, onLog: print, quiet: true })
  },
})
