// pve:cluster:create end to end on the simulator: VMs, then the Talos and Flux stages through the
// stand-ins (sandbox: true), and a re-run that sends no mutating request and bootstraps nothing
// again. A generic profile skips both stages.
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

before(async () => {
  sim = await startSimulator({ inventory: 'sandbox', timeFactor: 0.001 })
  dir = await mkdtemp(join(tmpdir(), 'pm-cluster-create-'))
  mkdirSync(join(dir, 'clusters'))
  writeFileSync(join(dir, 'clusters', 'lab.yaml'), profileYaml({ name: 'lab', controlplanes: 3, workers: 1, flux: true, configDir: join(dir, 'talos', 'lab') }))
  writeFileSync(
    join(dir, 'clusters', 'plain.yaml'),
    `name: plain\ntype: generic\nnodes:\n  controlplane: { count: 1, name_prefix: plain-cp, start_vmid: 2101, cores: 1, memory: 1024, disk: 8G }\n  workers: { count: 1, name_prefix: plain-w, start_vmid: 2111, cores: 1, memory: 1024, disk: 8G }\ntemplate: 100\ntags: [plain]\n`,
  )
  env = sandboxScriptEnv(sim, dir)
})
after(async () => {
  await sim.stop()
  await rm(dir, { recursive: true, force: true })
})

const create = (profile: string) => runScript('scripts/cluster/create.ts', ['--profile', profile], { env, timeoutMs: 180_000 })
const standinCalls = (tool: string, sub: string): string[][] =>
  existsSync(env.PM_STANDIN_LOG)
    ? readFileSync(env.PM_STANDIN_LOG, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.tool === tool && e.argv[0] === sub).map((e) => e.argv)
    : []
const mutating = (from: number) => sim.requests.slice(from).filter((r) => r.method !== 'GET')
const standinState = () => JSON.parse(readFileSync(env.PM_STANDIN_STATE, 'utf8'))

test('create of a Talos profile: VMs, then configs, apply, one etcd bootstrap, health and Flux, through the stand-ins', async () => {
  const r = await create('lab')
  assert.equal(r.code, 0, r.stderr)
  const vms = sim.control.state().vms.filter((v) => [2001, 2002, 2003, 2011].includes(v.vmid))
  assert.equal(vms.length, 4)
  assert.ok(vms.every((v) => v.status === 'running' && String(v.config.tags).split(';').includes('lab')))
  // Talos nodes have no guest agent in maintenance mode: the wait checks 'running' and leaves the API to the Talos stage.
  assert.match(r.stderr, /All 4 VMs running \(Talos: the guest agent runs only once a node is configured; the Talos stage waits for the Talos API\)/)
  assert.deepEqual(sim.requests.filter((q) => q.path.includes('/agent/')).map((q) => q.path), [])
  assert.match(r.stderr, /Talos: .*\[sandbox: simulated nodes, talosctl stand-in .*test\/standins\/talosctl\]/)
  assert.match(r.stderr, /Flux: bootstrapped from ssh:\/\/git@127\.0\.0\.1\/fleet\.git .*\[sandbox: simulated nodes, flux stand-in/)
  assert.match(r.stderr, /lab: Talos bootstrapped, healthy; kubeconfig .* \(sandbox: simulated nodes/)
  const applies = standinCalls('talosctl', 'apply-config')
  assert.deepEqual(applies.map((a) => a[a.indexOf('--nodes') + 1]), ['127.0.10.11', '127.0.10.12', '127.0.10.13', '127.0.10.21'])
  const boots = standinCalls('talosctl', 'bootstrap')
  assert.equal(boots.length, 1)
  assert.equal(boots[0][boots[0].indexOf('--nodes') + 1], '127.0.10.11')
  assert.equal(standinState().cluster.bootstrapped, true)
  assert.equal(standinState().flux.bootstraps, 1)
  assert.equal(standinState().flux.path, 'clusters/lab')
})

test('create again on the complete cluster: zero mutating requests, no second apply, etcd or Flux bootstrap', async () => {
  const from = sim.requests.length
  const r = await create('lab')
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(mutating(from).map((q) => `${q.method} ${q.path}`), [])
  assert.equal(standinCalls('talosctl', 'apply-config').length, 4)
  assert.equal(standinCalls('talosctl', 'bootstrap').length, 1)
  assert.equal(standinState().cluster.bootstrapCalls, 1)
  assert.match(r.stderr, /etcd was already bootstrapped \(not again\)/)
  assert.match(r.stderr, /already bootstrapped, not again/)
  assert.match(r.stderr, /Flux: already bootstrapped from ssh:\/\/git@127\.0\.0\.1\/fleet\.git .*not again/)
  assert.equal(standinState().flux.bootstraps, 1)
  assert.equal(standinCalls('flux', 'bootstrap').length, 1)
})

test('a generic profile gets its VMs and skips the Talos and Flux stages', async () => {
  const talosCalls = standinCalls('talosctl', 'version').length
  const r = await create('plain')
  assert.equal(r.code, 0, r.stderr)
  assert.equal(sim.control.state().vms.filter((v) => v.vmid === 2101 || v.vmid === 2111).length, 2)
  assert.match(r.stderr, /All 2 VMs reachable: 2 with the guest agent answering/)
  assert.match(r.stderr, /plain is a generic cluster: no Talos stage/)
  assert.match(r.stderr, /plain is a generic cluster: no Flux stage/)
  assert.equal(standinCalls('talosctl', 'version').length, talosCalls)
})

test('sandbox: create, teardown, create: the recreated VMs come back in maintenance mode, get their configs again and etcd is bootstrapped again exactly once', async () => {
  const teardown = await runScript('scripts/cluster/teardown.ts', ['--profile', 'lab', '--yes'], { env, timeoutMs: 180_000 })
  assert.equal(teardown.code, 0, teardown.stderr)
  assert.match(teardown.stderr, /sandbox: the simulated Talos nodes 127\.0\.10\.11, 127\.0\.10\.12, 127\.0\.10\.13, 127\.0\.10\.21 are gone with their VMs/)
  assert.equal(standinState().cluster.bootstrapped, false)
  const applies = standinCalls('talosctl', 'apply-config').length
  const r = await create('lab')
  assert.equal(r.code, 0, r.stderr)
  const boots = standinCalls('talosctl', 'bootstrap')
  assert.equal(boots.length, 2)
  assert.equal(standinState().cluster.bootstrapCalls, 2)
  assert.equal(boots[1][boots[1].indexOf('--nodes') + 1], '127.0.10.11')
  assert.deepEqual(standinCalls('talosctl', 'apply-config').slice(applies).map((a) => a[a.indexOf('--nodes') + 1]), ['127.0.10.11', '127.0.10.12', '127.0.10.13', '127.0.10.21'])
  assert.match(r.stderr, /lab: Talos bootstrapped, healthy/)
  // A teardown that finds nothing left (e.g. resumed after the VMs went) still clears the simulated nodes.
  const again = await runScript('scripts/cluster/teardown.ts', ['--profile', 'lab', '--yes'], { env, timeoutMs: 180_000 })
  assert.equal(again.code, 0, again.stderr)
  const empty = await runScript('scripts/cluster/teardown.ts', ['--profile', 'lab', '--yes'], { env, timeoutMs: 180_000 })
  assert.equal(empty.code, 0, empty.stderr)
  assert.match(empty.stderr, /cluster lab has no VMs[\s\S]*sandbox: the simulated Talos nodes .* are gone with their VMs/)
})
