#!/usr/bin/env node
// pve:disks:orphans:remove: delete orphaned disks after showing exactly what goes and asking.
import { z } from 'zod'
import { runCommand, dryRunOption, yesOption } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { EXIT } from '../lib/errors.ts'
import { formatBytes, info, printOutput, warn } from '../lib/output.ts'
import { confirmDestructive } from '../lib/prompts.ts'
import { findOrphans, removable } from '../lib/storage/orphans.ts'
import { orphanColumns } from '../lib/storage/present.ts'
import { orphanRequirement, readGuests, readVolumes, removeOrphan } from '../lib/storage/scan.ts'
import { assertPrivileges } from '../lib/vm/permissions.ts'

await runCommand({
  name: 'pve:disks:orphans:remove',
  summary: 'Delete orphaned disks (asks first; --yes without a terminal)',
  details: `Removes unusedN disks of guests the tool owns (tag tags.managed) and volumes whose owner VM no
longer exists. Disks of other guests are listed but kept unless --any-owner. Snapshot-referenced
disks and template disks are never touched. Select with --volid to remove only some.`,
  options: z.strictObject({
    volid: z.array(z.string().min(1)).default([]).describe('only these volumes'),
    anyOwner: z.boolean().default(false).describe('also remove disks of guests the tool does not own'),
    dryRun: dryRunOption,
    yes: yesOption,
  }),
  async run(opts, cli) {
    const { config, client } = await openContext(cli)
    const [guests, volumes] = await Promise.all([readGuests(client), readVolumes(client)])
    const { orphans } = findOrphans(guests, volumes, config.tags.managed)
    const selected = opts.volid.length ? orphans.filter((o) => opts.volid.includes(o.volid)) : orphans
    const unknown = opts.volid.filter((v) => !orphans.some((o) => o.volid === v))
    if (unknown.length) warn(`not orphans (left alone): ${unknown.join(', ')}`)
    const doomed = selected.filter((o) => removable(o, opts.anyOwner))
    for (const o of selected.filter((x) => !doomed.includes(x))) info(`kept: ${o.volid} belongs to VM ${o.vmid}, which the tool does not own (--any-owner to include)`)
    if (!doomed.length) {
      info('nothing to remove')
      return opts.volid.length && unknown.length === opts.volid.length ? EXIT.refused : EXIT.ok
    }
    printOutput('table', doomed, doomed, orphanColumns)
    const total = doomed.reduce((s, o) => s + (o.size ?? 0), 0)
    if (opts.dryRun) {
      info(`would delete ${doomed.length} volume(s), ${formatBytes(total)}`)
      return
    }
    // before asking: a token that may delete only some of them fails now, naming what it lacks
    await assertPrivileges(client, doomed.map(orphanRequirement))
    await confirmDestructive(`Permanently delete these ${doomed.length} volume(s) (${formatBytes(total)})?`, { yes: opts.yes })
    for (const o of doomed) {
      await removeOrphan(client, o, guests)
      info(`deleted ${o.volid}`)
    }
  },
})
