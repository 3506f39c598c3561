import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { appendFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import { loadProfile, type ProfileConfig } from '../../scripts/lib/profile.ts'
import { planTeardown, checkVisibility, type TeardownInput } from '../../scripts/lib/cluster/teardown-rules.ts'
import { ownerDescription } from '../../scripts/lib/cluster/marker.ts'
import { ClusterJournal } from '../../scripts/lib/cluster/journal.ts'
import { ResourceLimiter } from '../../scripts/lib/cluster/limits.ts'
import { ConflictError } from '../../scripts/lib/errors.ts'
import type { LiveVm } from '../../scripts/lib/cluster/plan.ts'

const config = parse(await readFile('cluster-config.yaml', 'utf8')) as ProfileConfig
const profile = await loadProfile('talos-staging', config, { dir: 'clusters' })
const owner = { cluster: 'talos-staging', clusterId: '6f1c7a52-0d4e-4a43-9a57-1f0e8c2b9d11' }
const TAGS = ['controlplane', 'kubernetes', 'pm-managed', 'staging', 'talos']
const ours = (vmid: number, over: Partial<LiveVm> = {}, cfg: Record<string, unknown> = {}): LiveVm => ({
  vmid, name: `k0s0${vmid - 1030}`, node: 'pve01', status: 'running', template: false, tags: TAGS,
  config: { description: ownerDescription(owner, { name: `k0s0${vmid - 1030}`, role: 'controlplane' }), ...cfg }, ...over,
})
const visible = { expectedNodes: ['pve01', 'pve02'], nodes: [{ node: 'pve01', status: 'online' }, { node: 'pve02', status: 'online' }], missingPrivileges: [] }
const input = (live: LiveVm[], over: Partial<TeardownInput> = {}): TeardownInput => ({
  profile, owner, profileSize: 3, live, journalVmids: [], profileVmids: [1031, 1032, 1033], visibility: visible, ...over,
})

test('teardown targets exactly the tagged VMs with the owner marker', () => {
  const other = { ...ours(1040), tags: ['talos', 'kubernetes'], name: 'prod1' }
  const { targets, refusals } = planTeardown(input([ours(1031), ours(1032), other]))
  assert.deepEqual(refusals, [])
  assert.deepEqual(targets.map((t) => t.vmid), [1031, 1032])
})

test('a partial clone without tags is found through the journal when it carries the marker', () => {
  const partial = ours(1050, { tags: [] })
  const stranger = { ...ours(1051, { tags: [] }), config: { description: 'other' } }
  const { targets, refusals } = planTeardown(input([partial, stranger], { journalVmids: [1050, 1051] }))
  assert.deepEqual(refusals, [])
  assert.deepEqual(targets.map((t) => t.vmid), [1050])
})

test('teardown refuses: empty selector, tagged VM without marker, template, protected, too many', () => {
  assert.match(planTeardown(input([ours(1031)], { profile: { ...profile, tags: [' '] } })).refusals[0], /empty selector/)
  assert.match(planTeardown(input([ours(1031, {}, { description: 'made by hand' })])).refusals[0], /not the owner marker of cluster talos-staging/)
  assert.match(planTeardown(input([ours(1031, { template: true })])).refusals[0], /template/)
  assert.match(planTeardown(input([ours(1031, {}, { protection: 1 })])).refusals[0], /protected/)
  assert.match(planTeardown(input([ours(1031), ours(1032), ours(1033), ours(1034)])).refusals[0], /4 VMs match, more than the 3/)
  assert.match(planTeardown(input([ours(1031, { config: undefined })])).refusals[0], /could not be read/)
})

test('teardown refuses when visibility is incomplete, even with nothing matched', () => {
  const offline = { ...visible, nodes: [{ node: 'pve01', status: 'online' }, { node: 'pve02', status: 'offline' }] }
  assert.match(planTeardown(input([], { visibility: offline })).refusals[0], /visibility check failed: node pve02 is offline/)
  const missing = { ...visible, nodes: [{ node: 'pve01', status: 'online' }] }
  assert.match(checkVisibility(missing)[0], /node pve02 .* is not reported/)
  assert.match(checkVisibility({ ...visible, missingPrivileges: ['VM.Audit on /vms'] })[0], /cannot see every VM/)
})

test('the journal survives a torn line, lists pending tasks, and state writes are atomic', async () => {
  const root = await mkdtemp(join(tmpdir(), 'journal-'))
  try {
    const j = new ClusterJournal('c1', root)
    j.append({ op: 'clone', phase: 'intent', vmid: 1031 })
    j.append({ op: 'clone', phase: 'dispatched', vmid: 1031, upid: 'UPID:a' })
    j.append({ op: 'clone', phase: 'dispatched', vmid: 1032, upid: 'UPID:b' })
    j.append({ op: 'clone', phase: 'done', vmid: 1032, upid: 'UPID:b' })
    appendFileSync(j.journalFile, '{"op":"clo')
    assert.deepEqual(j.pendingTasks().map((e) => e.upid), ['UPID:a'])
    assert.equal((await stat(j.journalFile)).mode & 0o777, 0o600)
    assert.equal(j.readState(), undefined)
    j.writeState({ cluster: 'c1', clusterId: 'x', createdAt: 'now', vmids: [], placement: {} })
    assert.deepEqual(j.updateState((s) => s.vmids.push(1031)).vmids, [1031])
  } finally {
    await rm(root, { recursive: true })
  }
})

test('one run per cluster: a live holder blocks, a dead one is taken over', async () => {
  const root = await mkdtemp(join(tmpdir(), 'journal-'))
  try {
    const j = new ClusterJournal('c1', root)
    const release = j.lock()
    assert.throws(() => new ClusterJournal('c1', root).lock(), (e: unknown) => e instanceof ConflictError && /another run \(pid \d+\) is working on cluster c1/.test(e.message))
    release()
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString()
    appendFileSync(join(root, 'c1', 'lock'), `${dead}\n`)
    const again = new ClusterJournal('c1', root).lock()
    again()
  } finally {
    await rm(root, { recursive: true })
  }
})

test('the limiter never exceeds the per-node and per-storage caps', async () => {
  const limiter = new ResourceLimiter({ perNode: 2, perStorage: 1 })
  const tick = () => new Promise((r) => setTimeout(r, 2))
  const jobs = Array.from({ length: 12 }, (_, i) =>
    limiter.run([{ kind: 'node', id: `n${i % 3}` }, { kind: 'storage', id: `n${i % 3}:local-lvm` }], tick),
  )
  const other = Array.from({ length: 6 }, (_, i) => limiter.run([{ kind: 'node', id: `n${i % 3}` }], tick))
  await Promise.all([...jobs, ...other])
  for (const [key, n] of limiter.highWater) assert.ok(n <= (key.startsWith('node:') ? 2 : 1), `${key} reached ${n}`)
  assert.equal(limiter.highWater.get('node:n0'), 2)
})
