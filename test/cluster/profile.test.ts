import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, mkdtemp, writeFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { parse } from 'yaml'
import { loadProfile, expandMembers, profileJsonSchema, PROFILE_JSON_SCHEMA_FILE, type ProfileConfig } from '../../scripts/lib/profile.ts'
import { ConfigError, NotFoundError, UsageError } from '../../scripts/lib/errors.ts'

const FIXTURES = 'test/fixtures/profiles'
const exampleConfig = parse(await readFile('cluster-config.yaml', 'utf8')) as ProfileConfig

// Validation must never touch the network: any fetch during these tests fails them.
const realFetch = globalThis.fetch
let fetchCalls = 0
before(() => {
  globalThis.fetch = (async () => {
    fetchCalls++
    throw new Error('no API call expected while validating profiles')
  }) as typeof fetch
})
after(() => {
  globalThis.fetch = realFetch
  assert.equal(fetchCalls, 0, 'profile validation made an API call')
})

test('the shipped profiles are valid together', async () => {
  const staging = await loadProfile('talos-staging', exampleConfig, { dir: 'clusters' })
  assert.equal(staging.type, 'talos')
  assert.equal(staging.template, 101)
  assert.equal(staging.nodes.controlplane.count, 3)
  assert.equal(staging.nodes.controlplane.placement, 'spread')
  assert.equal(staging.nodes.workers?.count, 0)
  const members = expandMembers(staging, exampleConfig)
  assert.deepEqual(members.map((m) => [m.name, m.vmid, m.role]), [
    ['k0s01', 1031, 'controlplane'],
    ['k0s02', 1032, 'controlplane'],
    ['k0s03', 1033, 'controlplane'],
  ])
  for (const m of members) assert.ok(m.vmid! >= exampleConfig.vmid_ranges.vms.min && m.vmid! <= exampleConfig.vmid_ranges.vms.max)
  const generic = await loadProfile('docker-lab', exampleConfig, { dir: 'clusters' })
  assert.equal(generic.type, 'generic')
  assert.deepEqual(expandMembers(generic, exampleConfig).map((m) => [m.name, m.vmid, m.role, m.ip]), [
    ['lab-cp01', 1101, 'controlplane', undefined],
    ['lab-w01', 1111, 'worker', undefined],
    ['lab-w02', 1112, 'worker', undefined],
  ])
})

test('group defaults come from cluster-config.yaml defaults', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'profiles-'))
  try {
    await writeFile(join(dir, 'mini.yaml'), 'name: mini\ntype: generic\nnodes:\n  controlplane: { count: 1, name_prefix: m, start_vmid: 5000 }\ntemplate: 100\ntags: [mini]\n')
    const p = await loadProfile(join(dir, 'mini.yaml'), exampleConfig, { dir })
    const [m] = expandMembers(p, exampleConfig)
    assert.deepEqual([m.name, m.cores, m.memory, m.disk, m.placement], ['m01', exampleConfig.defaults!.cores, exampleConfig.defaults!.memory, exampleConfig.defaults!.disk_size, 'spread'])
    assert.deepEqual(expandMembers(p, exampleConfig, { workers: 2 }).length, 1, 'no workers group: scaling needs one')
  } finally {
    await rm(dir, { recursive: true })
  }
})

test('assignments beyond count are kept for scaling up and checked like the others', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'profiles-'))
  try {
    const text = 'name: spare\ntype: generic\nnodes:\n  controlplane: { count: 1, name_prefix: s, start_vmid: 5100 }\n  workers:\n    count: 1\n    name_prefix: w\n    assignments:\n      - { name: w01, vmid: 5201 }\n      - { name: w02, vmid: 5202 }\ntemplate: 100\ntags: [spare]\n'
    await writeFile(join(dir, 'spare.yaml'), text)
    const p = await loadProfile(join(dir, 'spare.yaml'), exampleConfig, { dir })
    assert.deepEqual(expandMembers(p, exampleConfig).map((m) => m.name), ['s01', 'w01'])
    assert.deepEqual(expandMembers(p, exampleConfig, { workers: 2 }).map((m) => m.vmid), [5100, 5201, 5202])
    await writeFile(join(dir, 'spare.yaml'), text.replace('vmid: 5202', 'vmid: 500'))
    await assert.rejects(loadProfile(join(dir, 'spare.yaml'), exampleConfig, { dir }), /VMID 500 of w02 is outside vmid_ranges\.vms/)
  } finally {
    await rm(dir, { recursive: true })
  }
})

const ruleDirs = (await readdir(join(FIXTURES, 'invalid'))).sort()

test('there is one invalid fixture per rule', () => {
  assert.ok(ruleDirs.length >= 20, `only ${ruleDirs.length} invalid fixtures`)
})

for (const rule of ruleDirs) {
  test(`invalid profile is rejected: ${rule}`, async () => {
    const dir = join(FIXTURES, 'invalid', rule)
    const files = await readdir(dir)
    let target: string | undefined
    let expect: RegExp | undefined
    for (const f of files) {
      const text = await readFile(join(dir, f), 'utf8')
      if (!text.startsWith('# Negative fixture:')) continue
      target = join(dir, f)
      expect = new RegExp(/^# expect: (.*)$/m.exec(text)![1], 'm')
    }
    assert.ok(target && expect, `${dir} has no "# Negative fixture" file`)
    const err = await loadProfile(target, exampleConfig, { dir, onWarning: () => {} }).then(
      () => assert.fail(`${rule}: the profile was accepted`),
      (e: unknown) => e,
    )
    assert.ok(err instanceof ConfigError, `${rule}: expected ConfigError, got ${err}`)
    assert.match(err.message, expect, `${rule}: message was:\n${err.message}`)
    for (const issue of err.issues) assert.ok(issue.line && issue.col, `${rule}: issue without a position: ${issue.path}`)
  })
}

test('an even control-plane count is a warning, not an error', async () => {
  const warnings: string[] = []
  const p = await loadProfile(join(FIXTURES, 'warning/even/alpha.yaml'), exampleConfig, { dir: join(FIXTURES, 'warning/even'), onWarning: (w) => warnings.push(w) })
  assert.equal(p.nodes.controlplane.count, 4)
  assert.equal(warnings.length, 1)
  assert.match(warnings[0], /alpha\.yaml:\d+:\d+ nodes\.controlplane\.count: 4 control planes tolerate no more failures than 3/)
})

test('profile names resolve inside the clusters directory, and bad names are usage errors', async () => {
  await assert.rejects(loadProfile('no-such-cluster', exampleConfig, { dir: 'clusters' }), (e: unknown) => e instanceof NotFoundError && /known profiles: .*talos-staging/.test(e.hint ?? ''))
  await assert.rejects(loadProfile('  ', exampleConfig), UsageError)
  await assert.rejects(loadProfile('Bad Name', exampleConfig), UsageError)
})

test('the editor JSON Schema is up to date (task pve:cluster:schema)', async () => {
  const committed = JSON.parse(await readFile(PROFILE_JSON_SCHEMA_FILE, 'utf8'))
  assert.deepEqual(committed, profileJsonSchema())
  for (const f of ['clusters/talos-staging.yaml', 'clusters/docker-lab.yaml']) {
    assert.match(await readFile(f, 'utf8'), /^# yaml-language-server: \$schema=\.\.\/scripts\/lib\/schema\/profile\.schema\.json$/m)
  }
})
