// Selector commands against the simulator: refusals before any request, dry runs, bulk power,
// snapshots and prune, tags (idempotent, foreign tags kept), permission preflight, delete.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { sandbox, vmState, type Sandbox } from './sim-helpers.ts'

let sb: Sandbox
before(async () => {
  sb = await sandbox()
})
after(() => sb.stop())

test('an empty or match-everything selector is refused with 0 requests', async () => {
  const mark = sb.mark()
  const cases: [string, string[]][] = [
    ['bulk/stop', []],
    ['bulk/delete', ['--selector', '']],
    ['tag/add', ['--selector', ' , ', '--tag', 'x']],
    ['bulk/snapshot', ['--selector', '*']],
    ['snap/prune', ['--selector', '@all', '--keep', '1']],
    ['bulk/shutdown', ['--selector', '-1000']],
  ]
  const runs = await Promise.all(cases.map(([script, args]) => sb.run(script, args)))
  runs.forEach((r, i) => {
    assert.equal(r.code, 7, `${cases[i][0]}: ${r.stderr}`)
    assert.match(r.stderr, /empty selector|matches every VM/)
  })
  assert.equal(sb.sim.requests.length, mark, 'not a single request')
})

test('a selector that matches every VM of the cluster is refused unless --all', async () => {
  const mark = sb.mark()
  const r = await sb.run('bulk/start', ['--selector', '1000:9999'])
  assert.equal(r.code, 7)
  assert.match(r.stderr, /matches every VM of the cluster/)
  assert.deepEqual(sb.mutations(mark), [])
  const dry = await sb.run('bulk/start', ['--selector', '1000:9999', '--all', '--dry-run', '--output', 'json'])
  assert.equal(dry.code, 0, dry.stderr)
  assert.deepEqual(JSON.parse(dry.stdout).map((x: { vmid: number }) => x.vmid), [1000, 1001, 1002, 1003, 1010])
})

test('--dry-run prints the plan (templates never included) and sends nothing', async () => {
  const mark = sb.mark()
  const r = await sb.run('bulk/stop', ['--selector', '@tag-pm-managed,-@tag-db', '--dry-run', '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  const plan = JSON.parse(r.stdout) as { vmid: number; result: string }[]
  assert.deepEqual(plan.map((p) => p.vmid), [1000, 1001, 1003])
  assert.deepEqual(plan.map((p) => p.result), ['would stop', 'would stop', 'skip'])
  assert.deepEqual(sb.mutations(mark), [])
})

test('bulk stop confirms; bulk start and stop act in parallel and skip VMs already there', async () => {
  let r = await sb.run('bulk/stop', ['--selector', '@tag-web'])
  assert.equal(r.code, 7, 'no terminal, no --yes')
  r = await sb.run('bulk/stop', ['--selector', '@tag-web', '--yes'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /1000\s+web-1\s+pve1\s+running\s+stopped/)
  assert.equal(vmState(sb.sim, 1000)?.status, 'stopped')
  assert.equal(vmState(sb.sim, 1001)?.status, 'stopped')
  r = await sb.run('bulk/start', ['--selector', 'web-*,dev-1'])
  assert.equal(r.code, 0, r.stderr)
  for (const id of [1000, 1001, 1003]) assert.equal(vmState(sb.sim, id)?.status, 'running')
  const mark = sb.mark()
  r = await sb.run('bulk/start', ['--selector', 'web-*'])
  assert.equal(r.code, 0)
  assert.match(r.stdout, /already running/)
  assert.deepEqual(sb.mutations(mark), [])
  r = await sb.run('bulk/shutdown', ['--selector', '1003', '--timeout', '20'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(vmState(sb.sim, 1003)?.status, 'stopped')
})

test('tags: add and remove write only `tags`, keep foreign tags, and re-runs send nothing', async () => {
  let mark = sb.mark()
  let r = await sb.run('tag/add', ['--selector', '@tag-prod', '--tag', 'Backup'])
  assert.equal(r.code, 0, r.stderr)
  const puts = sb.mutations(mark)
  assert.equal(puts.length, 3)
  for (const p of puts) assert.deepEqual(Object.keys(p.params).filter((k) => k !== 'digest'), ['tags'])
  assert.equal(vmState(sb.sim, 1002)?.config.tags, 'backup;db;pm-managed;prod')
  mark = sb.mark()
  r = await sb.run('tag/add', ['--selector', '@tag-prod', '--tag', 'backup'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(sb.mutations(mark), [])
  r = await sb.run('tag/rename', ['--selector', '@tag-backup', '--tag', 'backup', '--to', 'nightly'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(vmState(sb.sim, 1000)?.config.tags, 'nightly;pm-managed;prod;web')
  mark = sb.mark()
  r = await sb.run('tag/rename', ['--selector', '@tag-prod', '--tag', 'backup', '--to', 'nightly'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(sb.mutations(mark), [], 'a re-run of the rename sends nothing')
  r = await sb.run('tag/remove', ['--selector', '@tag-nightly', '--tag', 'nightly'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(vmState(sb.sim, 1000)?.config.tags, 'pm-managed;prod;web')
  mark = sb.mark()
  r = await sb.run('tag/remove', ['--selector', '@tag-prod', '--tag', 'nightly'])
  assert.equal(r.code, 0)
  assert.deepEqual(sb.mutations(mark), [])
})

test('bulk snapshot names snapshots pm-<label>-<time>; prune deletes only ours beyond KEEP', async () => {
  // two older ones in the tool's name scheme, and one the tool did not make
  for (const name of ['pm-daily-20250101000000', 'pm-daily-20250102000000', 'before-upgrade']) {
    const r = await sb.run('snap/create', ['--vmid', '1000', '--name', name])
    assert.equal(r.code, 0, r.stderr)
  }
  const r0 = await sb.run('bulk/snapshot', ['--selector', 'web-1,dev-1', '--label', 'daily'])
  assert.equal(r0.code, 0, r0.stderr)
  assert.match(r0.stdout, /snapshot taken\s+pm-daily-\d{14}/)
  const snaps = () => vmState(sb.sim, 1000)!.snapshots
  assert.equal(snaps().filter((s) => /^pm-daily-\d{14}$/.test(s)).length, 3)
  const pmName = /pm-daily-\d{14}/.exec(r0.stdout)![0]
  let mark = sb.mark()
  let r = await sb.run('snap/prune', ['--selector', 'web-1,dev-1', '--keep', '1', '--dry-run'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /delete pm-daily-/)
  assert.deepEqual(sb.mutations(mark), [])
  r = await sb.run('snap/prune', ['--selector', 'web-1,dev-1', '--keep', '1', '--yes'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(snaps().filter((s) => s.startsWith('pm-')), [pmName], 'the newest is kept')
  assert.ok(snaps().includes('before-upgrade'), 'a snapshot the tool did not make is kept')
  mark = sb.mark()
  r = await sb.run('snap/prune', ['--selector', 'web-1,dev-1', '--keep', '1', '--yes'])
  assert.equal(r.code, 0)
  assert.deepEqual(sb.mutations(mark), [])
})

test('permission preflight names what is missing before any change', async () => {
  const token = sb.sim.control.createToken('ops@pve', 'audit', { acl: [{ path: '/vms', role: 'PVEAuditor' }] })
  const env = { PVE_TOKEN_ID: token.id, PVE_TOKEN_SECRET: token.secret }
  const mark = sb.mark()
  const r = await sb.run('bulk/stop', ['--selector', '@tag-web', '--yes'], { env })
  assert.equal(r.code, 4, r.stderr)
  assert.match(r.stderr, /lacks privileges.*VM\.PowerMgmt on \/vms\/1000, \/vms\/1001/)
  assert.deepEqual(sb.mutations(mark), [])
})

test('bulk delete: typed confirmation, refused as a whole when one VM may not be deleted', async () => {
  sb.sim.control.addVm({ vmid: 2000, node: 'pve1', name: 'tmp-1', tags: 'pm-managed;tmp', disks: [1] })
  sb.sim.control.addVm({ vmid: 2001, node: 'pve2', name: 'tmp-2', tags: 'pm-managed;tmp', disks: [1], running: true })
  sb.sim.control.addVm({ vmid: 2002, node: 'pve3', name: 'tmp-3', tags: 'tmp', disks: [1] })
  const mark = sb.mark()
  let r = await sb.run('bulk/delete', ['--selector', '@tag-tmp', '--yes'])
  assert.equal(r.code, 7)
  assert.match(r.stderr, /VM 2002 was not created by this tool/)
  r = await sb.run('bulk/delete', ['--selector', '@tag-tmp,-2002'])
  assert.equal(r.code, 7, 'no terminal, no --yes')
  assert.deepEqual(sb.mutations(mark), [])
  r = await sb.run('bulk/delete', ['--selector', '@tag-tmp,-2002', '--yes'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(vmState(sb.sim, 2000), undefined)
  assert.equal(vmState(sb.sim, 2001), undefined)
  assert.ok(vmState(sb.sim, 2002))
})

test('the token never appears in any output', () => {
  const secret = sb.sim.rootToken.secret
  for (const text of sb.output) assert.ok(!text.includes(secret))
})
