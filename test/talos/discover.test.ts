// talos:discover against loopback listeners (the Talos API port is a test port), the talosctl
// stand-in for the maintenance API and the PVE simulator for the VMs: matches by MAC and by
// guest-agent address, only the given subnet scanned, large and non-loopback subnets refused.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { STANDIN_TALOSCTL, STANDIN_FLUX, workspace, type Workspace } from './fixture.ts'
import { startSimulator, type Simulator } from '../helpers/sim.ts'
import { subnetHosts } from '../../scripts/lib/talos/discover.ts'
import { RefusedError } from '../../scripts/lib/errors.ts'

let sim: Simulator
const servers: Server[] = []
let port = 0
/** VMID → the MAC the simulator gave its net0. */
const macs = new Map<number, string>()

/** A listener on ip:port standing for a machine's Talos API (the first one picks the port). */
async function listen(ip: string): Promise<void> {
  const server = createServer((s) => s.destroy())
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, ip, () => resolve()))
  if (!port) port = (server.address() as { port: number }).port
  servers.push(server)
}

before(async () => {
  sim = await startSimulator({ inventory: 'empty', nodes: 1 })
  for (const [vmid, name, extra] of [
    [2001, 'lab-cp01', {}],
    [2011, 'lab-w01', { agent: true, cloudinit: true, ipconfig0: 'ip=127.0.10.41/24,gw=127.0.10.1' }],
    [2012, 'lab-w02', {}],
    [3000, 'unrelated', {}],
  ] as const) {
    const vm = sim.control.addVm({ vmid, name, running: true, ...extra })
    macs.set(vmid, /=([0-9A-F:]{17})/i.exec(vm.config.net0)![1].toUpperCase())
  }
  // .11: cp01 in maintenance mode (its MAC); .41: a machine whose MAC PVE does not know, reported by
  // lab-w01's guest agent; .50: something on the port that is no Talos maintenance API.
  for (const ip of ['127.0.10.11', '127.0.10.41', '127.0.10.50']) await listen(ip)
})

after(async () => {
  for (const s of servers) s.close()
  await sim.stop()
})

function discoverWorkspace(): Workspace {
  const ws = workspace({ controlplanes: 1, workers: 2 })
  sim.writeClusterConfig(join(ws.dir, 'cluster-config.yaml'), { tools: { talosctl: STANDIN_TALOSCTL, flux: STANDIN_FLUX }, sandbox: true })
  Object.assign(ws.env, sim.env())
  ws.setState({
    autoCreate: false,
    nodes: {
      '127.0.10.11': { state: 'maintenance', version: 'v1.13.0', mac: macs.get(2001) },
      '127.0.10.41': { state: 'maintenance', version: 'v1.13.0', mac: '02:00:00:AA:BB:CC' },
      // Known to the stand-in but with no listener: never contacted, so never found.
      '127.0.10.12': { state: 'maintenance', version: 'v1.13.0', mac: macs.get(2012) },
    },
  })
  return ws
}

test('a profile\'s subnet is scanned; machines are matched to VMs by MAC, else by guest-agent address', async () => {
  const ws = discoverWorkspace()
  try {
    // The fixture profile: lab-cp01 vmid 2001 at .11, lab-w01 2011 at .21, lab-w02 2012 at .22, prefix 24.
    const r = await ws.run('scripts/talos/discover.ts', ['--profile', 'lab', '--port', String(port), '--output', 'json'])
    assert.equal(r.code, 0, r.stderr)
    const rows = JSON.parse(r.stdout)
    assert.deepEqual(rows.map((d: any) => d.ip), ['127.0.10.11', '127.0.10.41', '127.0.10.50'])
    const [cp, agent, other] = rows
    assert.deepEqual([cp.state, cp.vmid, cp.vm, cp.matchedBy, cp.profileNode], ['maintenance', 2001, 'lab-cp01', 'mac', 'lab-cp01'])
    assert.deepEqual(cp.macs, [macs.get(2001)])
    assert.deepEqual([agent.state, agent.vmid, agent.matchedBy, agent.profileNode], ['maintenance', 2011, 'guest-agent', 'lab-w01'])
    assert.equal(other.state, 'unknown')
    assert.equal(other.vmid, undefined)
    assert.match(r.stderr, /scanning 254 address\(es\) of 127\.0\.10\.0\/24/)
    assert.match(r.stderr, /not found: lab-w02 \(127\.0\.10\.22\)/)
    // talosctl was asked only about the addresses that answered on the port.
    assert.deepEqual([...new Set(ws.calls('get').map((a) => a[a.indexOf('--nodes') + 1]))].sort(), ['127.0.10.11', '127.0.10.41', '127.0.10.50'])
    assert.ok(ws.calls('get').every((a) => a.includes('--insecure') || a.includes('--talosconfig')))
    // Only the profile's VMs were read from PVE.
    assert.ok(!sim.requests.some((q) => q.path.includes('/qemu/3000/')), 'the unrelated VM is not read')
  } finally {
    ws.cleanup()
  }
})

test('SUBNET= scans only that subnet and matches against every VM', async () => {
  const ws = discoverWorkspace()
  try {
    const r = await ws.run('scripts/talos/discover.ts', ['--subnet', '127.0.10.8/29', '--port', String(port), '--output', 'json'])
    assert.equal(r.code, 0, r.stderr)
    const rows = JSON.parse(r.stdout)
    assert.deepEqual(rows.map((d: any) => [d.ip, d.vm, d.matchedBy]), [['127.0.10.11', 'lab-cp01', 'mac']])
    assert.match(r.stderr, /scanning 6 address\(es\) of 127\.0\.10\.8\/29/)
  } finally {
    ws.cleanup()
  }
})

test('refused before anything is contacted: non-loopback subnets in the sandbox, large subnets without --allow-large, over a /16 always', async () => {
  const ws = discoverWorkspace()
  try {
    for (const [args, message] of [
      [['--subnet', '10.0.0.0/24'], /outside 127\.0\.0\.0\/8/],
      [['--subnet', '127.0.0.0/21'], /2048 addresses[\s\S]*--allow-large/],
      [['--subnet', '127.0.0.0/15', '--allow-large'], /larger than a \/16/],
    ] as const) {
      const r = await ws.run('scripts/talos/discover.ts', [...args, '--port', String(port)])
      assert.equal(r.code, 7, r.stderr)
      assert.match(r.stderr, message)
    }
    assert.equal(ws.log().length, 0, 'talosctl never ran')
    const bad = await ws.run('scripts/talos/discover.ts', ['--subnet', '127.0.10.0'])
    assert.equal(bad.code, 1, bad.stderr)
  } finally {
    ws.cleanup()
  }
})

test('subnet arithmetic: hosts without network and broadcast, /31 and /32 as given, --allow-large up to a /16', () => {
  assert.deepEqual(subnetHosts('127.0.0.8/30', { sandbox: true }), ['127.0.0.9', '127.0.0.10'])
  assert.deepEqual(subnetHosts('127.0.0.8/31', { sandbox: true }), ['127.0.0.8', '127.0.0.9'])
  assert.deepEqual(subnetHosts('127.0.0.7/32', { sandbox: true }), ['127.0.0.7'])
  assert.equal(subnetHosts('127.0.0.0/22', { sandbox: true }).length, 1022)
  assert.equal(subnetHosts('127.1.0.0/16', { sandbox: true, allowLarge: true }).length, 65534)
  assert.throws(() => subnetHosts('127.0.0.0/21', { sandbox: true }), RefusedError)
  assert.equal(subnetHosts('192.168.1.0/24', { sandbox: false }).length, 254, 'outside the sandbox any private subnet may be given (not contacted here)')
})
