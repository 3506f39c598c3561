// talos:bootstrap through the talosctl stand-in (offline commands by the real talosctl): configs
// applied to maintenance-mode nodes, etcd bootstrapped exactly once across re-runs and injected
// timeouts, kubeconfig and health; secrets never in argv or output.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { workspace, requireRealTalosctl, secretValues } from './fixture.ts'

requireRealTalosctl()

test('bootstrap applies every config, bootstraps etcd once on the first control plane, fetches the kubeconfig and checks health', async () => {
  const ws = workspace({ controlplanes: 3, workers: 2 })
  try {
    const r = await ws.run('scripts/talos/bootstrap.ts', ['--profile', 'lab', '--debug'])
    assert.equal(r.code, 0, r.stderr)
    const applies = ws.calls('apply-config')
    assert.deepEqual(applies.map((a) => a[a.indexOf('--nodes') + 1]), ['127.0.10.11', '127.0.10.12', '127.0.10.13', '127.0.10.21', '127.0.10.22'])
    assert.ok(applies.every((a) => a.includes('--insecure') && !a.includes('--talosconfig')))
    const boots = ws.calls('bootstrap')
    assert.equal(boots.length, 1)
    assert.equal(boots[0][boots[0].indexOf('--nodes') + 1], '127.0.10.11')
    assert.equal(ws.state().cluster.bootstrapCalls, 1)
    const health = ws.calls('health')[0]
    assert.equal(health[health.indexOf('--control-plane-nodes') + 1], '127.0.10.11,127.0.10.12,127.0.10.13')
    assert.equal(health[health.indexOf('--worker-nodes') + 1], '127.0.10.21,127.0.10.22')
    assert.ok(health.includes('--wait-timeout'))
    assert.equal(statSync(join(ws.dir, 'state/lab/kubeconfig')).mode & 0o777, 0o600)
    assert.equal(statSync(join(ws.dir, 'state/lab/secrets.yaml')).mode & 0o777, 0o600)
    assert.equal(statSync(join(ws.dir, 'state/lab')).mode & 0o777, 0o700)

    // No secret value in any argv, in the output, even with --debug.
    const secrets = secretValues(ws)
    assert.ok(secrets.length > 5)
    const everything = JSON.stringify(ws.log()) + r.stdout + r.stderr
    for (const s of secrets) assert.ok(!everything.includes(s), 'a secret reached argv or output')
    // The talosconfig endpoints are the control planes, not the VIP.
    const tc = parse(readFileSync(join(ws.dir, 'state/lab/talosconfig'), 'utf8'))
    assert.deepEqual(tc.contexts.lab.endpoints, ['127.0.10.11', '127.0.10.12', '127.0.10.13'])

    // A re-run changes nothing: no apply, no bootstrap.
    const before = ws.log().length
    const again = await ws.run('scripts/talos/bootstrap.ts', ['--profile', 'lab'])
    assert.equal(again.code, 0, again.stderr)
    const rerun = ws.log().slice(before).filter((e) => e.tool === 'talosctl').map((e) => e.argv[0])
    assert.ok(!rerun.includes('apply-config'), 'configured nodes are not re-applied')
    assert.ok(!rerun.includes('bootstrap'), 'bootstrap is not called again')
    assert.equal(ws.state().cluster.bootstrapCalls, 1)
    assert.match(again.stderr, /already bootstrapped/)
  } finally {
    ws.cleanup()
  }
})

test('a bootstrap call that times out after taking effect is not repeated', async () => {
  const ws = workspace({ controlplanes: 3, workers: 0 })
  try {
    ws.setState({ faults: [{ command: 'bootstrap', effect: 'timeout-after-success', times: 1 }] })
    const r = await ws.run('scripts/talos/bootstrap.ts', ['--profile', 'lab'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(ws.calls('bootstrap').length, 1)
    assert.equal(ws.state().cluster.bootstrapCalls, 1)
    assert.match(r.stderr, /timed out|failed; checking etcd/)
  } finally {
    ws.cleanup()
  }
})

test('a bootstrap that failed before taking effect is retried on the same node only', async () => {
  const ws = workspace({ controlplanes: 3, workers: 0 })
  try {
    ws.setState({ faults: [{ command: 'bootstrap', effect: 'error', times: 1, message: 'rpc error: code = Unavailable desc = connection reset' }] })
    const r = await ws.run('scripts/talos/bootstrap.ts', ['--profile', 'lab'], { env: { PM_TALOS_POLL_MS: '10' } })
    assert.equal(r.code, 0, r.stderr)
    const boots = ws.calls('bootstrap')
    assert.equal(boots.length, 2)
    assert.ok(boots.every((a) => a[a.indexOf('--nodes') + 1] === '127.0.10.11'), 'never a second node')
    assert.equal(ws.state().cluster.bootstrapped, true)
  } finally {
    ws.cleanup()
  }
})

test('a cluster bootstrapped elsewhere is recognised: bootstrap is not called', async () => {
  const ws = workspace({ controlplanes: 1, workers: 0 })
  try {
    const first = await ws.run('scripts/talos/config.ts', ['--profile', 'lab'])
    assert.equal(first.code, 0, first.stderr)
    ws.setState({ nodes: { '127.0.10.11': { state: 'configured', role: 'controlplane', version: 'v1.13.0', hostname: 'lab-cp01' } }, cluster: { bootstrapped: true, bootstrapCalls: 0, excluded: [] } })
    const r = await ws.run('scripts/talos/bootstrap.ts', ['--profile', 'lab'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(ws.calls('bootstrap').length, 0)
  } finally {
    ws.cleanup()
  }
})

test('unreachable nodes fail the wait with the node named, after the deadline', async () => {
  const ws = workspace({ controlplanes: 1, workers: 1 })
  try {
    ws.setState({ autoCreate: false, nodes: { '127.0.10.11': { state: 'maintenance', version: 'v1.13.0' } } })
    const r = await ws.run('scripts/talos/bootstrap.ts', ['--profile', 'lab'], { env: { PM_TALOS_POLL_MS: '10', PM_TALOS_NODE_WAIT_MS: '300' } })
    assert.equal(r.code, 5, r.stderr)
    assert.match(r.stderr, /lab-w01 \(127\.0\.10\.21: unreachable\)/)
    assert.equal(ws.calls('apply-config').length, 0, 'nothing applied while a node is missing')
  } finally {
    ws.cleanup()
  }
})
