// The "wait until reachable" step of pve:cluster:create on the simulator: a generic profile waits
// for the guest agent to report each VM's static address; an agent that never answers ends the run
// with an error naming the VM (exit 5), and running create again, once the agent answers, finishes
// without a single mutating request. The step itself only reads (GET), never contacts a VM address.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startSimulator, type Simulator } from '../helpers/sim.ts'
import { runScript } from '../helpers/run.ts'
import type { PveClient } from '../../scripts/lib/pve/client.ts'
import { ApiError, EXIT } from '../../scripts/lib/errors.ts'
import { agentEnabled, probeVm } from '../../scripts/lib/cluster/reachable.ts'
import type { LiveVm } from '../../scripts/lib/cluster/plan.ts'

let sim: Simulator
let dir: string
let env: Record<string, string>

const profile = (name: string, base: number, net: number) => `name: ${name}
type: generic
network: { gateway: 127.0.${net}.1, prefix: 24 }
nodes:
  controlplane: { count: 1, name_prefix: ${name}-cp, cores: 1, memory: 1024, disk: 8G, assignments: [{ name: ${name}-cp01, vmid: ${base + 1}, ip: 127.0.${net}.11 }] }
  workers: { count: 2, name_prefix: ${name}-w, cores: 1, memory: 1024, disk: 8G, assignments: [{ name: ${name}-w01, vmid: ${base + 11}, ip: 127.0.${net}.21 }, { name: ${name}-w02, vmid: ${base + 12}, ip: 127.0.${net}.22 }] }
template: 100
tags: [${name}]
`

before(async () => {
  sim = await startSimulator({ inventory: 'sandbox', timeFactor: 0.001 })
  dir = await mkdtemp(join(tmpdir(), 'pm-cluster-reach-'))
  mkdirSync(join(dir, 'clusters'))
  writeFileSync(join(dir, 'clusters', 'reach.yaml'), profile('reach', 2300, 20))
  writeFileSync(join(dir, 'clusters', 'mute.yaml'), profile('mute', 2400, 21))
  const config = sim.writeClusterConfig(join(dir, 'cluster-config.yaml'))
  env = { ...sim.env(), PVE_CONFIG: config, PM_CLUSTERS_DIR: join(dir, 'clusters'), PM_STATE_DIR: join(dir, 'state'), PM_TASK_POLL_MS: '20', PM_RETRY_BASE_MS: '50' }
})
after(async () => {
  await sim.stop()
  await rm(dir, { recursive: true, force: true })
})

const create = (name: string, ...args: string[]) => runScript('scripts/cluster/create.ts', ['--profile', name, ...args], { env, timeoutMs: 180_000 })
const mutating = (from: number) => sim.requests.slice(from).filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}`)
const agentAsks = (from: number, vmid: number) => sim.requests.slice(from).filter((r) => r.method === 'GET' && r.path.endsWith(`/qemu/${vmid}/agent/network-get-interfaces`))

test('create waits for each guest agent to report the profile address, asking PVE only', async () => {
  const from = sim.requests.length
  const r = await create('reach')
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /All 3 VMs reachable: 3 with the guest agent answering at the profile's address/)
  for (const vmid of [2301, 2311, 2312]) {
    const asks = agentAsks(from, vmid)
    assert.ok(asks.length >= 1, `the agent of ${vmid} was asked`)
    assert.equal(asks.at(-1)!.status, 200, `the last answer for ${vmid} is the agent's`)
  }
  // The wait comes after the VMs were started, never before.
  const lastStart = sim.requests.slice(from).findLastIndex((q) => q.method === 'POST' && q.path.endsWith('/status/start'))
  const firstAsk = sim.requests.slice(from).findIndex((q) => q.path.endsWith('/agent/network-get-interfaces'))
  assert.ok(lastStart >= 0 && firstAsk > lastStart, 'the agents are asked after every start')
})

test('create again on the complete cluster: the agents are asked again, zero mutating requests', async () => {
  const from = sim.requests.length
  const r = await create('reach')
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(mutating(from), [])
  assert.ok(agentAsks(from, 2301).length >= 1)
  assert.match(r.stderr, /All 3 VMs reachable/)
})

test('an agent that never answers: the error names the VM and why (exit 5); once it answers, create finishes with no mutating request', async () => {
  // PVE's answer while the guest runs without its agent (not installed, not started).
  sim.control.addFault({ kind: 'http', method: 'GET', path: '/qemu/2412/agent/network-get-interfaces$', status: 500, message: 'QEMU guest agent is not running' })
  try {
    const r = await create('mute', '--reach-timeout', '1')
    assert.equal(r.code, EXIT.taskFailed, r.stderr)
    assert.match(r.stderr, /1 of 3 VMs of mute not reachable within 1 s:\n\s+mute-w02 \(2412 on pve\d\): running, guest agent not answering \(QEMU guest agent is not running\)/)
    assert.doesNotMatch(r.stderr, /mute-cp01 \(2401|mute-w01 \(2411/)
    assert.match(r.stderr, /run the same command again/)
    assert.ok(sim.control.state().vms.filter((v) => [2401, 2411, 2412].includes(v.vmid)).every((v) => v.status === 'running'), 'the VMs are kept running')
  } finally {
    sim.control.clearFaults()
  }
  const from = sim.requests.length
  const again = await create('mute')
  assert.equal(again.code, 0, again.stderr)
  assert.deepEqual(mutating(from), [])
  assert.match(again.stderr, /All 3 VMs reachable/)
})

// probeVm's decisions that the simulator's guests do not exercise (a guest with another address,
// a token without VM.GuestAgent.Audit, Talos nodes): a client that answers one canned way.
const running: LiveVm = { vmid: 2501, name: 'x-cp01', node: 'pve1', status: 'running', template: false, tags: [] }
const answering = (result: unknown): PveClient => ({ get: async () => ({ result }) }) as unknown as PveClient
const failing = (err: Error): PveClient => ({ get: async () => Promise.reject(err) }) as unknown as PveClient
const untouchable = { get: async () => assert.fail('the agent must not be asked') } as unknown as PveClient
const iface = (ip: string) => [{ name: 'eth0', 'ip-addresses': [{ 'ip-address': ip, 'ip-address-type': 'ipv4', prefix: 24 }] }]

test('probeVm: the agent must report the profile address; Talos nodes and VMs without an agent count when running', async () => {
  const target = { name: 'x-cp01', vmid: 2501, ip: '127.0.30.11', agent: true }
  assert.deepEqual(await probeVm(answering(iface('127.0.30.11')), target, running, false), { ok: true, detail: 'guest agent answers (127.0.30.11)' })
  assert.deepEqual(await probeVm(answering(iface('127.0.30.99')), target, running, false), { ok: false, detail: 'guest agent answers but reports 127.0.30.99, not 127.0.30.11' })
  assert.deepEqual(await probeVm(untouchable, target, { ...running, status: 'stopped' }, false), { ok: false, detail: 'stopped, not running' })
  assert.deepEqual(await probeVm(untouchable, target, undefined, false), { ok: false, detail: 'does not exist' })
  assert.deepEqual(await probeVm(untouchable, target, running, true), { ok: true, detail: 'running' })
  assert.deepEqual(await probeVm(untouchable, { ...target, agent: false }, running, false), { ok: true, detail: 'running (no guest agent configured)' })
  const forbidden = new ApiError({ message: 'Permission check failed (/vms/2501, VM.GuestAgent.Audit)', status: 403, method: 'GET', path: '/nodes/pve1/qemu/2501/agent/network-get-interfaces' })
  await assert.rejects(probeVm(failing(forbidden), target, running, false), /VM\.GuestAgent\.Audit/)
})

test('agentEnabled reads PVE\'s agent property', () => {
  for (const on of ['1', 'enabled=1', '1,fstrim_cloned_disks=1', 'type=virtio,enabled=1']) assert.equal(agentEnabled(on), true, on)
  for (const off of [undefined, '', '0', 'enabled=0', '0,type=isa']) assert.equal(agentEnabled(off), false, String(off))
})
