#!/usr/bin/env node
// pve:disks:orphans: unused disks in guest configs and image volumes no guest references.
import { z } from 'zod'
import { runCommand, outputOption } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { info, printOutput } from '../lib/output.ts'
import { findOrphans } from '../lib/storage/orphans.ts'
import { orphanColumns } from '../lib/storage/present.ts'
import { readGuests, readVolumes } from '../lib/storage/scan.ts'

await runCommand({
  name: 'pve:disks:orphans',
  summary: 'Find orphaned disks: unusedN entries and volumes no guest owns (snapshot-referenced ones excluded)',
  options: z.strictObject({ output: outputOption }),
  async run(opts, cli) {
    const { config, client } = await openContext(cli)
    const [guests, volumes] = await Promise.all([readGuests(client), readVolumes(client)])
    const report = findOrphans(guests, volumes, config.tags.managed)
    printOutput(opts.output, report, report.orphans, orphanColumns)
    if (opts.output === 'table') for (const k of report.kept) info(`kept: ${k.volid}: ${k.reason}`)
  },
})
