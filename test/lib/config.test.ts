import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { z } from 'zod'
import { loadClusterConfig, loadYamlFile, normalizeFingerprint } from '../../scripts/lib/config.ts'
import { ConfigError, EXIT } from '../../scripts/lib/errors.ts'
import { renderSchemaFiles } from '../../scripts/lib/schema/generate.ts'

const FIXTURES = resolve(import.meta.dirname, '../fixtures/config')

async function configError(file: string): Promise<ConfigError> {
  try {
    await loadClusterConfig(file)
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`)
    return err
  }
  assert.fail(`${file} was accepted`)
}

describe('invalid fixtures', () => {
  for (const name of readdirSync(join(FIXTURES, 'invalid')).sort()) {
    test(name, async () => {
      const file = join(FIXTURES, 'invalid', name)
      const text = readFileSync(file, 'utf8')
      assert.match(text, /^# Negative fixture: /, 'each fixture says what it tests')
      const expected = /^# expect: (.+)$/m.exec(text)?.[1]
      assert.ok(expected, 'each fixture names its expected message')
      const err = await configError(file)
      assert.equal(err.exitCode, EXIT.config)
      const lines = err.message.split('\n')
      const wanted = expected.startsWith(':') ? `${file}${expected}` : expected
      assert.ok(lines.some((l) => l.includes(wanted)), `expected a line containing\n  ${wanted}\ngot:\n  ${lines.join('\n  ')}`)
      for (const l of lines) assert.ok(l.startsWith(file), `every line names the file: ${l}`)
    })
  }
})

test('valid fixtures load, with defaults applied', async () => {
  const minimal = await loadClusterConfig(join(FIXTURES, 'valid/minimal.yaml'))
  assert.equal(minimal.cluster.nodes[0].port, 8006)
  assert.equal(minimal.defaults.bios, 'ovmf')
  assert.deepEqual(minimal.vmid_ranges, { templates: { min: 100, max: 999 }, vms: { min: 1000, max: 9999 } })
  assert.equal(minimal.credentials.ssh_user, 'root')
  assert.equal(minimal.sandbox, false)
  // fingerprints are normalised to PVE's upper-case colon form
  assert.equal(minimal.tls.fingerprint, 'AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89')
  const example = await loadClusterConfig(join(FIXTURES, 'valid/example.yaml'))
  assert.equal(example.cluster.nodes.length, 3)
})

test('the valid example fixture is the documented cluster-config.yaml', () => {
  const root = readFileSync(resolve(import.meta.dirname, '../../cluster-config.yaml'), 'utf8')
  const copy = readFileSync(join(FIXTURES, 'valid/example.yaml'), 'utf8').split('\n').slice(1).join('\n')
  assert.equal(copy, root)
})

test('paths: ~ is the home directory, relative paths are relative to the config file; bare tool names stay PATH lookups', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pm-config-'))
  const file = join(dir, 'c.yaml')
  writeFileSync(
    file,
    ['cluster: { name: lab, nodes: [{ name: pve1, host: 127.0.0.1, port: 8443 }] }', 'tls: { ca_file: ca/root.pem }', 'cloudinit: { ssh_keys_file: ~/.ssh/id.pub }', 'tools: { talosctl: ./bin/talosctl, flux: flux, kubectl: ~/bin/kubectl }', 'sandbox: true'].join('\n'),
  )
  const cfg = await loadClusterConfig(file)
  assert.equal(cfg.tls.ca_file, join(dir, 'ca/root.pem'))
  assert.equal(cfg.cloudinit.ssh_keys_file, join(homedir(), '.ssh/id.pub'))
  assert.deepEqual(cfg.tools, { talosctl: join(dir, 'bin/talosctl'), flux: 'flux', kubectl: join(homedir(), 'bin/kubectl') })
  assert.equal(cfg.sandbox, true)
  assert.equal(cfg.file, file)
})

test('a missing file is a config error naming the file', async () => {
  const err = await configError('/nonexistent/cluster-config.yaml')
  assert.match(err.message, /^\/nonexistent\/cluster-config\.yaml \(root\): file not found$/)
})

test('loadYamlFile works for any schema and reports every issue at once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pm-yaml-'))
  const file = join(dir, 'p.yaml')
  writeFileSync(file, 'name: x\ncount: -1\nextra: 1\n')
  const schema = z.strictObject({ name: z.string().min(3), count: z.number().min(0) })
  await assert.rejects(loadYamlFile(file, schema), (err: ConfigError) => {
    assert.equal(err.issues.length, 3)
    assert.deepEqual(
      err.issues.map((i) => [i.line, i.col, i.path]),
      [
        [1, 7, 'name'],
        [2, 8, 'count'],
        [3, 1, 'extra'],
      ],
    )
    return true
  })
})

test('normalizeFingerprint accepts bare hex and any case', () => {
  const hex = 'ab'.repeat(32)
  assert.equal(normalizeFingerprint(hex), Array(32).fill('AB').join(':'))
  assert.equal(normalizeFingerprint('not-a-fingerprint'), 'not-a-fingerprint')
})

test('the committed JSON Schema is generated from the zod schema (run `task schema`)', () => {
  for (const { path, text } of renderSchemaFiles()) assert.equal(readFileSync(path, 'utf8'), text, `${path} is stale: run task schema`)
})

test('the JSON Schema rejects unknown keys and knows the tls modes', () => {
  const [{ text }] = renderSchemaFiles()
  const schema = JSON.parse(text)
  assert.equal(schema.additionalProperties, false)
  assert.deepEqual(Object.keys(schema.properties.tls.properties).sort(), ['ca_file', 'fingerprint', 'insecure'])
  assert.deepEqual(schema.required.sort(), ['cluster', 'tls'])
})
