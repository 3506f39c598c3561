#!/usr/bin/env node
// pve:node:return: bring the guests an evacuation moved back to the node they came from.
import { rename } from 'node:fs/promises'
import { z } from 'zod'
import { runCommand, dryRunOption, yesOption } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { EXIT, NotFoundError } from '../lib/errors.ts'
import { info, warn } from '../lib/output.ts'
import { confirmDestructive } from '../lib/prompts.ts'
import { locateGuest } from '../lib/node/migrate.ts'
import { returnGuests } from '../lib/node/maintenance.ts'
import { journalPath, planReturn, readJournal } from '../lib/node/plan.ts'
import { printPlan, reportEvent } from '../lib/node/present.ts'
import { sshTarget } from '../lib/node/ssh.ts'

await runCommand({
  name: 'pve:node:return',
  summary: 'Return the guests of an evacuation to their recorded origin node (after maintenance)',
  details: `Only guests still where the evacuation put them are moved; anything moved since is left alone
and reported. HA node maintenance is disabled first, so HA brings its guests back itself.
  task pve:node:return NODE=pve01 -- --yes`,
  options: z.strictObject({
    node: z.string().min(1).describe('the node that was evacuated'),
    parallel: z.coerce.number().int().min(1).max(32).optional().describe('migrations at once (default: limits.per_node)'),
    bwlimit: z.coerce.number().int().min(0).optional().describe('bandwidth limit per migration in KiB/s'),
    dryRun: dryRunOption,
    yes: yesOption,
  }),
  async run(opts, cli) {
    const { config, client } = await openContext(cli)
    const path = journalPath(config.cluster.name, opts.node)
    const journal = await readJournal(path)
    if (!journal) throw new NotFoundError(`no evacuation of ${opts.node} is recorded (${path})`, 'only guests moved by pve:node:evacuate/apply can be returned')
    const where = new Map<number, { node: string; status: string }>()
    for (const m of journal.moves) {
      const g = await locateGuest(client, m.vmid)
      if (g) where.set(m.vmid, g)
    }
    const preview = planReturn(journal, (vmid) => where.get(vmid))
    printPlan('table', { kind: 'evacuation-plan', version: 1, node: opts.node, createdAt: '', policy: { memReserve: 0, cpuFactor: 1, strategy: 'spread' }, moves: preview.moves, ha: { maintenance: false, guests: [] }, blocked: [], skipped: [] })
    for (const n of preview.notes) info(n)
    if (journal.ha.enabled) info(`HA node maintenance on ${opts.node} will be disabled (HA returns ${journal.ha.guests.length} guest(s))`)
    if (opts.dryRun) return
    await confirmDestructive(`Migrate ${preview.moves.length} guest(s) back to ${opts.node}?`, { yes: opts.yes })
    const result = await returnGuests(client, journal, {
      parallel: opts.parallel ?? config.limits.per_node,
      memReserve: 0, // they lived there before the maintenance
      defaultStorage: config.defaults.storage,
      bwlimit: opts.bwlimit,
      journalPath: path,
      ssh: () => sshTarget(config, opts.node),
      onEvent: reportEvent,
      onInfo: info,
    })
    if (result.failed.length) {
      warn('stopped after a failure; fix it and run the same command again to resume')
      return EXIT.taskFailed
    }
    await rename(path, path.replace(/\.json$/, `.returned-${Date.now()}.json`))
    info(`done: ${result.done.length} guest(s) back on ${opts.node}`)
  },
})
