import { test } from 'node:test'
import assert from 'node:assert/strict'
import { z } from 'zod'
import { parseArgv, formatHelp, reportError, outputOption, dryRunOption } from '../../scripts/lib/cli.ts'
import { ConfigError, EXIT, UsageError } from '../../scripts/lib/errors.ts'
import { registerSecret, redact } from '../../scripts/lib/secrets.ts'

const options = z.strictObject({
  vmid: z.coerce.number().int(),
  tag: z.array(z.string()).default([]),
  dryRun: dryRunOption,
  wait: z.boolean().default(true),
  output: outputOption,
})
const shape = options.shape as Record<string, z.ZodType>

test('parses values, repeated arrays, booleans and --no- negation', () => {
  const { raw } = parseArgv(['--vmid', '101', '--tag', 'a', '--tag=b,c', '--dry-run', '--no-wait', '-o', 'json'], shape)
  const parsed = options.parse(raw)
  assert.deepEqual(parsed, { vmid: 101, tag: ['a', 'b', 'c'], dryRun: true, wait: false, output: 'json' })
})

test('unknown flags are rejected by the strict schema', () => {
  const { raw } = parseArgv(['--vmid=100', '--colour', 'red'], shape)
  const r = options.safeParse(raw)
  assert.equal(r.success, false)
})

test('global flags are separated from command options', () => {
  const { raw, globals } = parseArgv(['--vmid=100', '--debug', '--config', 'x.yaml'], shape)
  assert.deepEqual(globals, { debug: true, config: 'x.yaml' })
  assert.deepEqual(raw, { vmid: '100' })
})

test('a value option without a value is a usage error', () => {
  assert.throws(() => parseArgv(['--vmid'], shape), UsageError)
})

test('positional arguments are refused unless declared', () => {
  assert.throws(() => parseArgv(['stray'], shape), /unexpected argument/)
})

test('help lists every option with its default', () => {
  const help = formatHelp({ name: 'x', summary: 'demo', options, run: async () => {} } as never)
  assert.match(help, /--dry-run/)
  assert.match(help, /--output <value>.*default: table/)
  assert.match(help, /--vmid <value>.*\(required\)/)
})

test('errors map to documented exit codes and are redacted', () => {
  registerSecret('canary-1234-secret')
  const writes: string[] = []
  const orig = process.stderr.write.bind(process.stderr)
  process.stderr.write = ((s: string) => (writes.push(String(s)), true)) as typeof process.stderr.write
  try {
    assert.equal(reportError(new UsageError('bad canary-1234-secret')), EXIT.usage)
    assert.equal(reportError(new ConfigError([{ file: 'c.yaml', line: 3, col: 5, path: 'nodes.0.host', message: 'Required' }])), EXIT.config)
    assert.equal(reportError(new Error('boom')), EXIT.internal)
  } finally {
    process.stderr.write = orig
  }
  const all = writes.join('')
  assert.ok(!all.includes('canary-1234-secret'))
  assert.match(all, /c\.yaml:3:5 nodes\.0\.host: Required/)
  assert.equal(redact(encodeURIComponent('x canary-1234-secret')), encodeURIComponent('x ') + '***')
})
