// Node maintenance against the simulator: evacuate → apply → return, resumable apply, migrate.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { startSimulator, type Simulator } from '../helpers/sim.ts'
import { runScript } from '../helpers/run.ts'

let sim: Simulator
let env: Record<string, string>
let dir: string
const GiB = 1024 ** 3

before(async () => {
  sim = await startSimulator({
    timeFactor: 0.002,
    inventory: {
      nodes: 3,
      vms: [
        ...Array.from({ length: 9 }, (_, i) => ({ vmid: 2000 + i, node: 'pve1', name: `app-${i}`, running: i % 3 !== 2, memory: 2048 * (1 + (i % 4)), cores: 2, disks: [8], tags: 'pm-managed' })),
        { vmid: 2100, node: 'pve2', name: 'other', running: true, memory: 4096, disks: [8] },
        { vmid: 2101, node: 'pve3', name: 'other2', running: true, memory: 4096, disks: [8] },
        { vmid: 900, node: 'pve1', name: 'tpl', template: true, disks: [4] },
      ],
    },
  })
  dir = await mkdtemp(join(tmpdir(), 'pm-maint-'))
  env = { ...sim.env(), PVE_CONFIG: sim.writeClusterConfig(join(dir, 'cluster-config.yaml')), PM_STATE_DIR: join(dir, 'state') }
})
after(() => sim.stop())

const where = () => new Map(sim.control.state().vms.map((v) => [v.vmid, v.node]))
const run = (script: string, args: string[]) => runScript(`scripts/${script}`, args, { env })
const migratePosts = () => sim.requests.filter((r) => r.method === 'POST' && /\/qemu\/\d+\/migrate$/.test(r.path))

test('evacuate --dry-run prints a plan that never targets the node and changes nothing', async () => {
  const before = where()
  const r = await run('node/evacuate.ts', ['--node', 'pve1', '--dry-run', '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  const plan = JSON.parse(r.stdout)
  assert.equal(plan.moves.length, 9)
  assert.ok(plan.moves.every((m: { to: string; from: string }) => m.to !== 'pve1' && m.from === 'pve1'))
  assert.deepEqual(plan.skipped.map((s: { vmid: number }) => s.vmid), [900])
  // capacity: what lands on each target fits under its memory minus the 10% reserve
  const nodes = await sim.control.state().nodes
  assert.equal(nodes.length, 3)
  for (const target of ['pve2', 'pve3']) {
    const added = plan.moves.filter((m: { to: string; mode: string }) => m.to === target && m.mode === 'online').reduce((s: number, m: { memory: number }) => s + m.memory, 0)
    assert.ok(added > 0 && added < 128 * GiB * 0.9, `${target} receives ${added}`)
  }
  assert.deepEqual(where(), before)
  assert.equal(migratePosts().length, 0)
})

test('evacuate → apply → return leaves every VM where it started', async () => {
  const start = where()
  const planFile = join(dir, 'plan.yaml')
  let r = await run('node/evacuate.ts', ['--node', 'pve1', '--plan-file', planFile])
  assert.equal(r.code, 0, r.stderr)
  const plan = parse(await readFile(planFile, 'utf8'))
  assert.equal(plan.moves.length, 9)

  r = await run('node/apply.ts', ['--plan', planFile])
  assert.equal(r.code, 7, 'no terminal and no --yes: refused')
  assert.equal(migratePosts().length, 0)

  r = await run('node/apply.ts', ['--plan', planFile, '--yes', '--parallel', '3'])
  assert.equal(r.code, 0, r.stderr)
  const during = where()
  for (const m of plan.moves) assert.equal(during.get(m.vmid), m.to, `VM ${m.vmid} on its planned target`)
  assert.equal(during.get(900), 'pve1', 'the template stays')

  r = await run('node/status.ts', ['--node', 'pve1', '--output', 'json'])
  assert.match(JSON.parse(r.stdout).evacuation, /9\/9 moved/)

  r = await run('node/return.ts', ['--node', 'pve1', '--yes'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(where(), start)
  const hw = sim.control.highWater() as unknown as Record<string, unknown>
  assert.ok(hw, 'simulator reports concurrency')

  r = await run('node/return.ts', ['--node', 'pve1', '--yes'])
  assert.equal(r.code, 3, 'nothing recorded any more')
})

test('apply stops at the first failure and a re-run resumes without migrating anything twice', async () => {
  const start = where()
  const planFile = join(dir, 'plan2.json')
  let r = await run('node/evacuate.ts', ['--node', 'pve1', '--plan-file', planFile])
  assert.equal(r.code, 0, r.stderr)
  const plan = JSON.parse(await readFile(planFile, 'utf8'))
  const victim = plan.moves[2].vmid
  sim.control.setLock(victim, 'backup') // a backup holds the VM: its migration fails
  const postsBefore = migratePosts().length
  r = await run('node/apply.ts', ['--plan', planFile, '--yes', '--parallel', '1'])
  assert.equal(r.code, 5, r.stderr)
  assert.match(r.stderr, /locked \(backup\)/)
  const firstRun = migratePosts().slice(postsBefore)
  assert.equal(firstRun.length, 2, 'serial: the two before the failure, nothing after it')
  assert.equal(where().get(plan.moves[3].vmid), 'pve1', 'moves after the failure did not start')

  sim.control.unlock(victim)
  r = await run('node/apply.ts', ['--plan', planFile, '--yes', '--parallel', '4'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /resuming: 2 of 9/)
  const all = migratePosts().slice(postsBefore)
  const perVm = new Map<string, number>()
  for (const p of all) perVm.set(p.path, (perVm.get(p.path) ?? 0) + 1)
  assert.ok([...perVm.values()].every((n) => n === 1), 'every VM was migrated exactly once')
  assert.equal(all.length, 9)

  r = await run('node/return.ts', ['--node', 'pve1', '--yes'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(where(), start)
})

test('a token that may not migrate every guest is refused before the first migration, naming what is missing', async () => {
  const planFile = join(dir, 'plan-perm.yaml')
  let r = await run('node/evacuate.ts', ['--node', 'pve1', '--plan-file', planFile])
  assert.equal(r.code, 0, r.stderr)
  // may read everything, and migrate only VM 2000
  const token = sim.control.createToken('ops@pve', 'maint', { acl: [{ path: '/', role: 'PVEAuditor' }, { path: '/vms/2000', role: 'PVEVMAdmin' }] })
  const before = where()
  const posts = migratePosts().length
  r = await runScript('scripts/node/apply.ts', ['--plan', planFile, '--yes'], { env: { ...env, PVE_TOKEN_ID: token.id, PVE_TOKEN_SECRET: token.secret } })
  assert.equal(r.code, 4, r.stderr)
  assert.match(r.stderr, /lacks privileges for this operation: VM\.Migrate on \/vms\/2001, \/vms\/2002, \/vms\/2003, /)
  assert.doesNotMatch(r.stderr, /VM\.Migrate on [^;]*\/vms\/2000\b/)
  assert.equal(migratePosts().length, posts, 'not a single migration started')
  assert.deepEqual(where(), before)
  assert.ok(!r.stdout.includes(token.secret) && !r.stderr.includes(token.secret))
})

test('a stale plan (a new guest on the node) is refused', async () => {
  const planFile = join(dir, 'plan3.yaml')
  let r = await run('node/evacuate.ts', ['--node', 'pve2', '--plan-file', planFile])
  assert.equal(r.code, 0, r.stderr)
  sim.control.addVm({ vmid: 2200, node: 'pve2', name: 'newcomer', disks: [4] })
  r = await run('node/apply.ts', ['--plan', planFile, '--yes'])
  assert.equal(r.code, 6)
  assert.match(r.stderr, /plan is stale.*2200/)
})

test('pve:vm:migrate: live with local disks, then refuses an over-full target and a same-node move', async () => {
  let r = await run('vm/migrate.ts', ['--vmid', '2000', '--target', 'pve3', '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  const result = JSON.parse(r.stdout)
  assert.equal(result.mode, 'online')
  assert.equal(result.withLocalDisks, true)
  assert.equal(where().get(2000), 'pve3')
  const post = migratePosts().at(-1)!
  assert.equal(post.params?.['with-local-disks'], '1')
  assert.equal(post.params?.online, '1')

  sim.control.addVm({ vmid: 2300, node: 'pve1', name: 'huge', running: true, memory: 120 * 1024, disks: [4] })
  r = await run('vm/migrate.ts', ['--vmid', '2300', '--target', 'pve2'])
  assert.equal(r.code, 7, r.stderr)
  assert.match(r.stderr, /not enough memory/)
  assert.equal(where().get(2300), 'pve1')

  r = await run('vm/migrate.ts', ['--vmid', '2000', '--target', 'pve3'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /already on pve3/)
})

test('evacuate --yes plans and applies at once; a second evacuation before the return is refused', async () => {
  const start = where()
  const onPve3 = [...start].filter(([, node]) => node === 'pve3').map(([vmid]) => vmid)
  assert.ok(onPve3.length >= 2)
  let r = await run('node/evacuate.ts', ['--node', 'pve3', '--yes'])
  assert.equal(r.code, 0, r.stderr)
  for (const vmid of onPve3) assert.notEqual(where().get(vmid), 'pve3', `VM ${vmid} left pve3`)

  // the plan of the running evacuation is what `apply` resumes from: it must stay as it is
  const clusterName = parse(await readFile(env.PVE_CONFIG, 'utf8')).cluster.name
  const planOfRecord = join(env.PM_STATE_DIR, 'evacuations', clusterName, 'pve3.plan.yaml')
  const recorded = await readFile(planOfRecord, 'utf8')
  sim.control.addVm({ vmid: 2400, node: 'pve3', name: 'late', disks: [4] })
  const posts = migratePosts().length
  r = await run('node/evacuate.ts', ['--node', 'pve3', '--yes'])
  assert.equal(r.code, 6, r.stderr)
  assert.match(r.stderr, /an earlier evacuation of pve3 has not been returned/)
  assert.equal(migratePosts().length, posts)
  assert.equal(await readFile(planOfRecord, 'utf8'), recorded)

  r = await run('node/return.ts', ['--node', 'pve3', '--yes'])
  assert.equal(r.code, 0, r.stderr)
  for (const vmid of onPve3) assert.equal(where().get(vmid), 'pve3', `VM ${vmid} is back`)
})
