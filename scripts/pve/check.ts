// task pve:check: can we reach every node, is TLS right, is the token valid, what may it do?
import { z } from 'zod'
import { outputOption, runCommand } from '../lib/cli.ts'
import { loadClusterConfig } from '../lib/config.ts'
import { resolveCredentials } from '../lib/credentials.ts'
import { ConfigError, EXIT } from '../lib/errors.ts'
import { printOutput } from '../lib/output.ts'
import { redact } from '../lib/secrets.ts'
import { checkCluster, type NodeCheck } from '../lib/pve/check.ts'

await runCommand({
  name: 'pve:check',
  summary: 'Check every node: reachability, TLS, PVE version, token validity and privileges',
  details: 'Exit code 0: all good; 8: some node failed or privileges are missing; 4: no node answered or the token was rejected.',
  options: z.strictObject({
    output: outputOption,
    timeout: z.coerce.number().positive().default(5).describe('seconds per node'),
  }),
  async run(opts, cli) {
    const config = await loadClusterConfig(cli.configPath)
    // A missing or broken token is reported with the rest: the nodes are still probed.
    const credentials = await resolveCredentials(config).catch((err: unknown) => {
      if (err instanceof ConfigError) return { error: err.message }
      throw err
    })
    const { createAgent } = await import('../lib/pve/tls.ts') // undici only when needed: fast --help
    const dispatcher = createAgent(config.tls, { connectTimeoutMs: opts.timeout * 1000, configFile: config.file })
    const report = await checkCluster(config, credentials, dispatcher, opts.timeout * 1000)
    await dispatcher.close()
    printOutput(opts.output, report, report.nodes, [
      { header: 'node', value: (n: NodeCheck) => n.node },
      { header: 'endpoint', value: (n) => n.endpoint },
      { header: 'result', value: (n) => (n.ok ? 'ok' : 'FAILED') },
      { header: 'version', value: (n) => n.version },
      { header: 'latency', value: (n) => (n.latencyMs === undefined ? undefined : `${n.latencyMs} ms`), align: 'right' },
      { header: 'detail', value: (n) => [n.message, n.hint && `(${n.hint})`].filter(Boolean).join(' ') },
    ])
    const reachable = report.nodes.filter((n) => n.ok).length
    if (opts.output === 'table') {
      const lines = [
        '',
        `tls: ${report.tls}`,
        report.token.error
          ? `token: NONE: ${report.token.error}`
          : `token: ${report.token.id} from ${report.token.source}: ${report.token.valid === true ? 'valid' : report.token.valid === false ? 'REJECTED (401)' : 'not verified (no node answered)'}`,
      ]
      const p = report.privileges
      if (p.checked) {
        lines.push(`privileges on /: ${p.required - p.missing.length} of the ${p.required} the tool uses`)
        for (const m of p.missing) lines.push(`  missing ${m.privilege}: ${m.usedFor}`)
      } else if (p.error) lines.push(`privileges: could not be read: ${p.error}`)
      process.stdout.write(redact(lines.join('\n')) + '\n')
    }
    if (!reachable || report.token.valid === false) return EXIT.api
    if (report.token.error) return EXIT.config
    if (reachable < report.nodes.length || report.privileges.missing.length || !report.privileges.checked) return EXIT.findings
    return EXIT.ok
  },
})
