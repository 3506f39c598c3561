// pve:cluster:scale, replace-node and rebuild on the simulator, Talos steps through the stand-ins:
// what each destroys is shown first, needs --yes without a terminal, --dry-run sends nothing,
// removed Talos nodes are reset gracefully before their VM goes, and etcd is bootstrapped once.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startSimulator, type Simulator } from '../helpers/sim.ts'
import { runScript } from '../helpers/run.ts'
import { sandboxScriptEnv } from './harness.ts'
import { profileYaml, requireRealTalosctl } from '../talos/fixture.ts'

requireRealTalosctl()

let sim: Simulator
let dir: string
let env: Record<string, string>

const PLAIN = `# a generic cluster for the lifecycle tests
name: plain
type: generic
nodes:
  controlplane: { count: 1, name_prefix: plain-cp, start_vmid: 2101, cores: 1, memory: 1024, disk: 8G }
  workers:
    count: 1 # grown and shrunk by scale
    name_prefix: plain-w
    start_vmid: 2111
    cores: 1
    memory: 1024
    disk: 8G
template: 100
tags: [plain]
`

before(async () => {
  sim = await startSimulator({ inventory: 'sandbox', timeFactor: 0.001 })
  dir = await mkdtemp(join(tmpdir(), 'pm-cluster-life-'))
  mkdirSync(join(dir, 'clusters'))
  // Two worker assignments, one in use: scale has an address for the second.
  writeFileSync(join(dir, 'clusters', 'lab.yaml'), profileYaml({ name: 'lab', controlplanes: 3, workers: 2, configDir: join(dir, 'talos', 'lab') }).replace(/(workers:\n {4}count: )2/, '$11'))
  writeFileSync(join(dir, 'clusters', 'plain.yaml'), PLAIN)
  env = sandboxScriptEnv(sim, dir)
})
after(async () => {
  await sim.stop()
  await rm(dir, { recursive: true, force: true })
})

const run = (script: string, args: string[]) => runScript(`scripts/cluster/${script}.ts`, args, { env, timeoutMs: 180_000 })
const mutating = (from: number) => sim.requests.slice(from).filter((r) => r.method !== 'GET')
const vmids = () => sim.control.state().vms.map((v) => v.vmid)
const standinCalls = (sub: string): string[][] =>
  existsSync(env.PM_STANDIN_LOG)
    ? readFileSync(env.PM_STANDIN_LOG, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.tool === 'talosctl' && e.argv[0] === sub).map((e) => e.argv)
    : []
const target = (argv: string[]) => argv[argv.indexOf('--nodes') + 1]
const clonesOf = (vmid: number) => sim.requests.filter((r) => r.method === 'POST' && /\/clone$/.test(r.path) && Number(r.params.newid) === vmid && r.status === 200).length
const plainFile = () => readFileSync(join(dir, 'clusters', 'plain.yaml'), 'utf8')

test('scale up a generic cluster: the profile gets the new count (comments kept), the workers are created, a re-run sends nothing', async () => {
  assert.equal((await run('create', ['--profile', 'plain'])).code, 0)
  const r = await run('scale', ['--profile', 'plain', '--workers', '3'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /workers 1 → 3; adds plain-w02, plain-w03/)
  assert.ok([2111, 2112, 2113].every((v) => vmids().includes(v)))
  assert.match(plainFile(), /count: 3 # grown and shrunk by scale/)
  const from = sim.requests.length
  assert.equal((await run('scale', ['--profile', 'plain', '--workers', '3'])).code, 0)
  assert.deepEqual(mutating(from).map((q) => `${q.method} ${q.path}`), [])
})

test('scale down shows the workers it removes, refuses without --yes, --dry-run sends nothing, --yes removes exactly those', async () => {
  let from = sim.requests.length
  let r = await run('scale', ['--profile', 'plain', '--workers', '1'])
  assert.equal(r.code, 7, r.stderr)
  assert.match(r.stdout, /2112 .*plain-w02/)
  assert.match(r.stdout, /2113 .*plain-w03/)
  assert.match(r.stderr, /Remove 2 workers of plain \(plain-w02, plain-w03\)[\s\S]*--yes/)
  r = await run('scale', ['--profile', 'plain', '--workers', '1', '--dry-run'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /dry run, nothing changed/)
  assert.deepEqual(mutating(from), [])
  assert.match(plainFile(), /count: 3/)
  from = sim.requests.length
  r = await run('scale', ['--profile', 'plain', '--workers', '1', '--yes'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(vmids().filter((v) => v >= 2100 && v < 2200).sort(), [2101, 2111])
  const deleted = mutating(from).filter((q) => q.method === 'DELETE').map((q) => Number(/\/qemu\/(\d+)$/.exec(q.path)?.[1]))
  assert.deepEqual(deleted.sort(), [2112, 2113])
  assert.match(plainFile(), /count: 1 # grown and shrunk by scale/)
})

test('scale a Talos cluster: the new worker joins without a second bootstrap; removing it resets it gracefully before its VM goes', async () => {
  let r = await run('create', ['--profile', 'lab'])
  assert.equal(r.code, 0, r.stderr)
  r = await run('scale', ['--profile', 'lab', '--workers', '2'])
  assert.equal(r.code, 0, r.stderr)
  assert.ok(vmids().includes(2012))
  assert.deepEqual(standinCalls('apply-config').map(target).filter((ip) => ip === '127.0.10.22'), ['127.0.10.22'])
  assert.equal(standinCalls('bootstrap').length, 1)
  const health = standinCalls('health').at(-1)!
  assert.equal(health[health.indexOf('--worker-nodes') + 1], '127.0.10.21,127.0.10.22')

  const resetsBefore = standinCalls('reset').length
  r = await run('scale', ['--profile', 'lab', '--workers', '1', '--yes'])
  assert.equal(r.code, 0, r.stderr)
  const resets = standinCalls('reset').slice(resetsBefore)
  assert.deepEqual(resets.map(target), ['127.0.10.22'])
  assert.ok(resets[0].includes('--graceful=true'))
  assert.ok(!vmids().includes(2012))
  assert.match(r.stderr, /lab-w02: reset lab-w02 \(sandbox: the talosctl stand-in\)/)
})

test('replace-node: --dry-run lists the steps and sends nothing; the control plane is reset, destroyed, cloned again and rejoins without a second bootstrap', async () => {
  let from = sim.requests.length
  let r = await run('replace-node', ['--profile', 'lab', '--name', 'lab-cp02', '--dry-run'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /talosctl reset --graceful on lab-cp02 \(cordon, drain, leave etcd\)/)
  assert.match(r.stderr, /shut down and delete VM 2002/)
  assert.deepEqual(mutating(from), [])

  from = sim.requests.length
  const appliesBefore = standinCalls('apply-config').filter((a) => target(a) === '127.0.10.12').length
  r = await run('replace-node', ['--profile', 'lab', '--name', 'lab-cp02', '--yes'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(clonesOf(2002), 2)
  assert.ok(mutating(from).some((q) => q.method === 'DELETE' && q.path.endsWith('/qemu/2002')))
  assert.ok(standinCalls('reset').some((a) => target(a) === '127.0.10.12'))
  assert.equal(standinCalls('apply-config').filter((a) => target(a) === '127.0.10.12').length, appliesBefore + 1)
  assert.equal(standinCalls('bootstrap').length, 1)
  // Nothing else was touched.
  assert.deepEqual([...new Set(mutating(from).map((q) => Number(/\/qemu\/(\d+)/.exec(q.path)?.[1])).filter((v) => v && v !== 100 && v !== 101))], [2002])
})

test('replace-node refuses a name outside the profile and a VM without the owner marker', async () => {
  let r = await run('replace-node', ['--profile', 'lab', '--name', 'nope', '--yes'])
  assert.equal(r.code, 3, r.stderr)
  assert.match(r.stderr, /nope is not a node of profile lab/)
  sim.control.mutate(2101, 'replace')
  const from = sim.requests.length
  r = await run('replace-node', ['--profile', 'plain', '--name', 'plain-cp01', '--yes'])
  assert.notEqual(r.code, 0)
  assert.match(r.stderr, /VMID 2101 is taken by foreign-2101, a VM without this cluster's owner marker/)
  assert.deepEqual(mutating(from), [])
})

test('rebuild: --dry-run sends nothing; one confirmation (refused without --yes); with --yes every VM is destroyed and cloned again', async () => {
  sim.control.mutate(2101, 'delete')
  assert.equal((await run('create', ['--profile', 'plain'])).code, 0)
  let from = sim.requests.length
  let r = await run('rebuild', ['--profile', 'plain', '--dry-run'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /rebuild of plain would destroy 2 VM\(s\), then create 2 from the profile/)
  assert.deepEqual(mutating(from), [])
  r = await run('rebuild', ['--profile', 'plain'])
  assert.equal(r.code, 7)
  assert.equal(r.stderr.match(/Rebuild cluster plain/g)?.length, 1)
  assert.deepEqual(mutating(from), [])
  const clones = [clonesOf(2101), clonesOf(2111)]
  from = sim.requests.length
  r = await run('rebuild', ['--profile', 'plain', '--yes'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual([clonesOf(2101), clonesOf(2111)], clones.map((n) => n + 1))
  assert.ok(mutating(from).some((q) => q.method === 'DELETE' && q.path.endsWith('/qemu/2111')))
  assert.ok(sim.control.state().vms.filter((v) => v.vmid === 2101 || v.vmid === 2111).every((v) => v.status === 'running'))
})
