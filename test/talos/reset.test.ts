// talos:reset through the talosctl stand-in: graceful reset of workers and control planes, etcd
// membership checked from a peer, remove-member only for a member left behind, refusals that
// protect etcd quorum, confirmation and --dry-run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { STANDIN_TALOSCTL, runningCluster, workspace, type Workspace } from './fixture.ts'

/** Hostnames of the etcd members, read from `via` (this read is logged like any other call). */
const members = (ws: Workspace, via = '127.0.10.11') => {
  const out = execFileSync(STANDIN_TALOSCTL, ['etcd', 'members', '--nodes', via, '--talosconfig', join(ws.dir, 'state/lab/talosconfig')], { env: ws.env, encoding: 'utf8' })
  return out.trim().split('\n').slice(1).map((l) => l.split(/\s{2,}/)[2])
}

const nodeArg = (argv: string[]) => argv[argv.indexOf('--nodes') + 1]

test('a worker is reset gracefully (drain) with STATE and EPHEMERAL wiped, and comes back in maintenance mode', async () => {
  const ws = workspace({ controlplanes: 3, workers: 2 })
  try {
    runningCluster(ws, 3, 2)
    const r = await ws.run('scripts/talos/reset.ts', ['--profile', 'lab', '--node', 'lab-w02', '--yes'])
    assert.equal(r.code, 0, r.stderr)
    const resets = ws.calls('reset')
    assert.equal(resets.length, 1)
    assert.equal(nodeArg(resets[0]), '127.0.10.22')
    assert.ok(resets[0].includes('--graceful=true'))
    assert.deepEqual(resets[0].filter((_, i, a) => a[i - 1] === '--system-labels-to-wipe'), ['STATE', 'EPHEMERAL'])
    assert.equal(ws.state().nodes['127.0.10.22'].state, 'maintenance')
    assert.equal(ws.calls('etcd').filter((a) => a[1] === 'remove-member').length, 0)
    assert.deepEqual(members(ws), ['lab-cp01', 'lab-cp02', 'lab-cp03'], 'etcd untouched')
    assert.match(r.stderr, /kubectl delete node lab-w02/)
  } finally {
    ws.cleanup()
  }
})

test('a control plane leaves etcd through its graceful reset; membership is checked from a peer, no remove-member', async () => {
  const ws = workspace({ controlplanes: 3, workers: 1 })
  try {
    runningCluster(ws, 3, 1)
    const r = await ws.run('scripts/talos/reset.ts', ['--profile', 'lab', '--node', '127.0.10.13', '--yes'])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(ws.calls('reset').map(nodeArg), ['127.0.10.13'])
    assert.equal(ws.calls('etcd').filter((a) => a[1] === 'remove-member').length, 0)
    const checks = ws.calls('etcd').filter((a) => a[1] === 'members')
    assert.ok(checks.length >= 2 && checks.every((a) => nodeArg(a) !== '127.0.10.13'), 'membership is read from a peer, before and after')
    assert.deepEqual(members(ws), ['lab-cp01', 'lab-cp02'])
  } finally {
    ws.cleanup()
  }
})

test('a control plane whose reset did not leave etcd is removed by member ID from a peer', async () => {
  const ws = workspace({ controlplanes: 3, workers: 0 })
  try {
    runningCluster(ws, 3, 0)
    ws.setState({ ...ws.state(), faults: [{ command: 'reset', node: '127.0.10.12', effect: 'stays-in-etcd' }] })
    const r = await ws.run('scripts/talos/reset.ts', ['--profile', 'lab', '--node', 'lab-cp02', '--yes'])
    assert.equal(r.code, 0, r.stderr)
    const removes = ws.calls('etcd').filter((a) => a[1] === 'remove-member')
    assert.equal(removes.length, 1)
    assert.notEqual(nodeArg(removes[0]), '127.0.10.12')
    assert.deepEqual(members(ws), ['lab-cp01', 'lab-cp03'])
  } finally {
    ws.cleanup()
  }
})

test('when etcd stops answering after the reset, the removal fails instead of reporting an empty membership', async () => {
  const ws = workspace({ controlplanes: 3, workers: 0 })
  try {
    runningCluster(ws, 3, 0)
    // The planning read from lab-cp01 goes through; every read after the reset fails.
    ws.setState({ ...ws.state(), faults: [{ command: 'etcd members', node: '127.0.10.11', skip: 1, times: 5, effect: 'error', message: 'rpc error: code = Unavailable desc = etcdserver: request timed out' }] })
    const r = await ws.run('scripts/talos/reset.ts', ['--profile', 'lab', '--node', 'lab-cp03', '--yes'])
    assert.equal(r.code, 5, r.stderr)
    assert.match(r.stderr, /cannot check that lab-cp03 left etcd: etcd on lab-cp01/)
    assert.deepEqual(ws.calls('reset').map(nodeArg), ['127.0.10.13'])
    assert.equal(ws.calls('etcd').filter((a) => a[1] === 'remove-member').length, 0, 'nothing removed blindly')
  } finally {
    ws.cleanup()
  }
})

test('an unreachable control plane is not reset but removed from etcd from a peer', async () => {
  const ws = workspace({ controlplanes: 3, workers: 0 })
  try {
    runningCluster(ws, 3, 0, { '127.0.10.11': { state: 'off' } })
    const r = await ws.run('scripts/talos/reset.ts', ['--profile', 'lab', '--node', 'lab-cp01', '--yes'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(ws.calls('reset').length, 0)
    const removes = ws.calls('etcd').filter((a) => a[1] === 'remove-member')
    assert.equal(removes.length, 1)
    assert.equal(nodeArg(removes[0]), '127.0.10.12')
    assert.deepEqual(members(ws, '127.0.10.12'), ['lab-cp02', 'lab-cp03'])
  } finally {
    ws.cleanup()
  }
})

test('refused: the last control plane, a removal below etcd quorum, and no terminal without --yes; nothing is reset', async () => {
  const single = workspace({ controlplanes: 1, workers: 1 })
  const degraded = workspace({ controlplanes: 3, workers: 0 })
  const unconfirmed = workspace({ controlplanes: 3, workers: 1 })
  try {
    runningCluster(single, 1, 1)
    const last = await single.run('scripts/talos/reset.ts', ['--profile', 'lab', '--node', 'lab-cp01', '--yes'])
    assert.equal(last.code, 7, last.stderr)
    assert.match(last.stderr, /last etcd member/)
    assert.equal(single.calls('reset').length, 0)

    // cp02 is down: removing cp03 leaves 2 members with 1 running, below the quorum of 2.
    runningCluster(degraded, 3, 0, { '127.0.10.12': { state: 'off' } })
    const quorum = await degraded.run('scripts/talos/reset.ts', ['--profile', 'lab', '--node', 'lab-cp03', '--yes'])
    assert.equal(quorum.code, 7, quorum.stderr)
    assert.match(quorum.stderr, /below the quorum of 2/)
    assert.equal(degraded.calls('reset').length, 0)

    runningCluster(unconfirmed, 3, 1)
    const noTty = await unconfirmed.run('scripts/talos/reset.ts', ['--profile', 'lab', '--node', 'lab-w01'])
    assert.equal(noTty.code, 7, noTty.stderr)
    assert.match(noTty.stderr, /talosctl reset --graceful on lab-w01/, 'the prompt says what will happen')
    assert.match(noTty.stderr, /--yes/)
    assert.equal(unconfirmed.calls('reset').length, 0)
    assert.equal(unconfirmed.state().nodes['127.0.10.21'].state, 'configured')
  } finally {
    single.cleanup()
    degraded.cleanup()
    unconfirmed.cleanup()
  }
})

test('--dry-run lists the steps and changes nothing; a node already in maintenance mode is left alone; an unknown node is not found', async () => {
  const ws = workspace({ controlplanes: 3, workers: 1 })
  try {
    runningCluster(ws, 3, 1)
    const dry = await ws.run('scripts/talos/reset.ts', ['--profile', 'lab', '--node', 'lab-cp02', '--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    assert.match(dry.stderr, /would remove lab-cp02[\s\S]*reset --graceful[\s\S]*no longer an etcd member/)
    assert.equal(ws.calls('reset').length, 0)

    ws.setState({ ...ws.state(), nodes: { ...ws.state().nodes, '127.0.10.21': { state: 'maintenance', version: 'v1.13.0' } } })
    const again = await ws.run('scripts/talos/reset.ts', ['--profile', 'lab', '--node', 'lab-w01', '--yes'])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stderr, /nothing to do/)
    assert.equal(ws.calls('reset').length, 0)

    const unknown = await ws.run('scripts/talos/reset.ts', ['--profile', 'lab', '--node', 'lab-w09', '--yes'])
    assert.equal(unknown.code, 3, unknown.stderr)
  } finally {
    ws.cleanup()
  }
})
