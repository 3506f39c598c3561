#!/usr/bin/env node
// Drift of the PVE hosts: pve-servers.yaml in check mode with diff, read through the JSON callback,
// summarised per host (what would change, which files). Exit 0 when every host is in sync, 8 when
// something would change, 5 when a host failed, 4 when one was unreachable. Changes nothing.
import { z } from 'zod'
import { outputOption, runCommand } from '../lib/cli.ts'
import { loadClusterConfig } from '../lib/config.ts'
import { EXIT, PmError } from '../lib/errors.ts'
import { formatDrift, parseJsonReport, summarizeDrift } from '../lib/ansible/drift.ts'
import { playbookEnv, playbookExit, runPlaybook } from '../lib/ansible/run.ts'
import { printOutput } from '../lib/output.ts'

await runCommand({
  name: 'ansible:drift',
  summary: 'What applying the host roles would change, per host (check mode with diff); exit 8 on drift',
  options: z.strictObject({
    limit: z.string().optional().describe('hosts or groups to check (ansible --limit)'),
    tags: z.string().optional().describe('only these roles, comma-separated'),
    output: outputOption,
    ansibleArgs: z.array(z.string()).default([]).describe('extra ansible-playbook arguments (after --)'),
  }),
  positional: 'ansibleArgs',
  async run(opts, flags) {
    const config = await loadClusterConfig(flags.configPath)
    const env = { ...playbookEnv(config, {}), ANSIBLE_STDOUT_CALLBACK: 'ansible.posix.json', ANSIBLE_CALLBACK_RESULT_FORMAT: 'json' }
    const args = ['--check', '--diff', ...(opts.limit ? ['--limit', opts.limit] : []), ...(opts.tags ? ['--tags', opts.tags] : []), ...opts.ansibleArgs]
    const result = await runPlaybook({ playbook: 'pve-servers', args, env, capture: true })
    let report
    try {
      report = parseJsonReport(result.stdout)
    } catch {
      throw new PmError(`ansible-playbook ended without a report (exit ${result.code}); its messages are above`, playbookExit(result.code) || EXIT.taskFailed)
    }
    const hosts = summarizeDrift(report)
    if (opts.output === 'table') process.stdout.write(formatDrift(hosts).join('\n') + '\n')
    else printOutput(opts.output, hosts, [], [])
    if (hosts.some((h) => h.status === 'unreachable')) return EXIT.api
    if (result.code !== 0 || hosts.some((h) => h.status === 'failed')) return EXIT.taskFailed
    return hosts.some((h) => h.status === 'drift') ? EXIT.findings : EXIT.ok
  },
})
