#!/usr/bin/env node
// pve:node:health: pvecontrol-style sanity report; exits 8 when a CRIT finding exists.
import { z } from 'zod'
import { runCommand, outputOption } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { EXIT } from '../lib/errors.ts'
import { info, printOutput } from '../lib/output.ts'
import { readHealthInput } from '../lib/node/health-input.ts'
import { runHealthChecks } from '../lib/node/health.ts'

await runCommand({
  name: 'pve:node:health',
  summary: 'Sanity checks: HA guests on local disks, overcommit, onboot vs state, unused disks, backup coverage and age',
  details: 'Findings are CRIT, WARN or INFO; each check without findings prints OK. Exit code 8 when any finding is CRIT (or WARN with --strict).',
  options: z.strictObject({
    cpuFactor: z.coerce.number().positive().default(4).describe('vCPU overcommit above which a node is flagged'),
    memWarn: z.coerce.number().min(0.1).max(1).default(0.9).describe('assigned memory ratio that warns (above 1 is CRIT)'),
    backupMaxAge: z.coerce.number().int().min(1).default(7).describe('days after which the newest backup is too old'),
    strict: z.boolean().default(false).describe('exit non-zero on warnings too'),
    output: outputOption,
  }),
  async run(opts, cli) {
    const { client } = await openContext(cli)
    const input = await readHealthInput(client, { cpuFactor: opts.cpuFactor, memWarn: opts.memWarn, backupMaxAgeDays: opts.backupMaxAge })
    const findings = runHealthChecks(input)
    printOutput(opts.output, findings, findings, [
      { header: 'check', value: (f) => f.check },
      { header: 'severity', value: (f) => f.severity },
      { header: 'subject', value: (f) => f.subject },
      { header: 'message', value: (f) => f.message },
    ])
    const crit = findings.filter((f) => f.severity === 'CRIT').length
    const warnings = findings.filter((f) => f.severity === 'WARN').length
    info(`${crit} critical, ${warnings} warning(s)`)
    if (crit || (opts.strict && warnings)) return EXIT.findings
  },
})
