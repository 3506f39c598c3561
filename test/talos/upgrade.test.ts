// talos:upgrade and talos:upgrade-k8s through the talosctl stand-in: control planes first, one node
// at a time, gates (version and schematic, etcd membership, health) before the first node and
// after each, the rollout stopping at the first failed gate, skips, version-path refusal, dry-runs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runningCluster, workspace, type Workspace } from './fixture.ts'
import { schematicId, schematicYaml } from '../../scripts/lib/talos/schematic.ts'

const SCHEMATIC = schematicId(schematicYaml({ extensions: ['siderolabs/qemu-guest-agent'] }))
const at = (version: string, schematic = SCHEMATIC) => ({ version, schematic })
const nodeArg = (argv: string[]) => argv[argv.indexOf('--nodes') + 1]
const upgradedNodes = (ws: Workspace) => ws.calls('upgrade').map(nodeArg)

/** The talosctl commands of the run in order, as "cmd node" (etcd and service with their subcommand). */
function sequence(ws: Workspace): string[] {
  return ws.log().filter((e) => e.tool === 'talosctl').map((e) => {
    const head = ['etcd', 'service', 'get'].includes(e.argv[0]) ? `${e.argv[0]} ${e.argv[1]}` : e.argv[0]
    return `${head} ${nodeArg(e.argv)}`
  })
}

test('control planes first, one node at a time, gates before the first node and after every node', async () => {
  const ws = workspace({ controlplanes: 3, workers: 2 })
  try {
    runningCluster(ws, 3, 2, {}, at('v1.13.0'))
    const r = await ws.run('scripts/talos/upgrade.ts', ['--profile', 'lab', '--version', 'v1.13.2', '--yes'])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(upgradedNodes(ws), ['127.0.10.11', '127.0.10.12', '127.0.10.13', '127.0.10.21', '127.0.10.22'])
    const image = ws.calls('upgrade')[0][ws.calls('upgrade')[0].indexOf('--image') + 1]
    assert.equal(image, `factory.talos.dev/nocloud-installer/${SCHEMATIC}:v1.13.2`, 'the profile\'s factory installer, never one read from a node')

    // Between two upgrades (and before the first): the node's version, etcd members, health.
    const seq = sequence(ws)
    const ups = seq.flatMap((c, i) => (c.startsWith('upgrade ') ? [i] : []))
    const windows = [seq.slice(0, ups[0]), ...ups.map((u, k) => seq.slice(u + 1, ups[k + 1] ?? seq.length))]
    for (const [k, w] of windows.entries()) {
      assert.ok(w.some((c) => c.startsWith('health ')), `health gate in window ${k}: ${w.join(' | ')}`)
      assert.ok(w.some((c) => c.startsWith('etcd members ')), `etcd membership gate in window ${k}`)
    }
    for (const [k, u] of ups.entries()) assert.ok(windows[k + 1].includes(`version ${nodeArg(ws.calls('upgrade')[k])}`), `version of the upgraded node read back after ${seq[u]}`)
    const health = ws.calls('health')[0]
    assert.equal(health[health.indexOf('--control-plane-nodes') + 1], '127.0.10.11,127.0.10.12,127.0.10.13')
    assert.equal(health[health.indexOf('--worker-nodes') + 1], '127.0.10.21,127.0.10.22')
    assert.ok(Object.values(ws.state().nodes).every((n: any) => n.version === 'v1.13.2' && n.schematic === SCHEMATIC))
    assert.match(r.stderr, /set talos\.version: "v1\.13\.2"/)

    // A re-run finds every node at the target: no upgrade, no confirmation needed.
    const again = await ws.run('scripts/talos/upgrade.ts', ['--profile', 'lab', '--version', 'v1.13.2'])
    assert.equal(again.code, 0, again.stderr)
    assert.equal(ws.calls('upgrade').length, 5)
    assert.match(again.stderr, /nothing to do/)
  } finally {
    ws.cleanup()
  }
})

test('nodes at the target version and schematic are skipped; a schematic change alone is an upgrade', async () => {
  const ws = workspace({ controlplanes: 3, workers: 1 })
  try {
    const other = 'a'.repeat(64)
    runningCluster(ws, 3, 1, { '127.0.10.11': at('v1.13.2'), '127.0.10.12': at('v1.13.2', other) }, at('v1.13.0'))
    const dry = await ws.run('scripts/talos/upgrade.ts', ['--profile', 'lab', '--version', 'v1.13.2', '--dry-run', '--output', 'json'])
    assert.equal(dry.code, 0, dry.stderr)
    const plan = JSON.parse(dry.stdout)
    assert.deepEqual(plan.steps.map((s: any) => [s.node.name, s.action]), [['lab-cp01', 'skip'], ['lab-cp02', 'upgrade'], ['lab-cp03', 'upgrade'], ['lab-w01', 'upgrade']])
    assert.match(plan.steps[1].reason, /schematic aaaaaaaaaaaa/)
    assert.equal(ws.calls('upgrade').length, 0, '--dry-run upgrades nothing')

    const r = await ws.run('scripts/talos/upgrade.ts', ['--profile', 'lab', '--version', 'v1.13.2', '--yes'])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(upgradedNodes(ws), ['127.0.10.12', '127.0.10.13', '127.0.10.21'])
    assert.equal(ws.state().nodes['127.0.10.12'].schematic, SCHEMATIC)
  } finally {
    ws.cleanup()
  }
})

for (const { fault, node, stopsAfter, message } of [
  { fault: 'unhealthy', node: '127.0.10.12', stopsAfter: 2, message: /upgrade stopped after lab-cp02[\s\S]*not ready/ },
  { fault: 'leaves-etcd', node: '127.0.10.11', stopsAfter: 1, message: /upgrade stopped after lab-cp01: etcd is not running on lab-cp01/ },
  { fault: 'rolls-back', node: '127.0.10.21', stopsAfter: 4, message: /upgrade stopped after lab-w01: lab-w01 runs v1\.13\.0[\s\S]*rolled back/ },
  { fault: 'error', node: '127.0.10.13', stopsAfter: 3, message: /upgrade stopped at lab-cp03: talosctl upgrade of lab-cp03 failed: .*simulated failure \(lab-cp03 runs v1\.13\.0/ },
]) {
  test(`the rollout stops at the first failed gate (${fault} on ${node}) and names what was and was not upgraded`, async () => {
    const ws = workspace({ controlplanes: 3, workers: 2 })
    try {
      runningCluster(ws, 3, 2, {}, at('v1.13.0'))
      ws.setState({ ...ws.state(), faults: [{ command: 'upgrade', node, effect: fault }] })
      const r = await ws.run('scripts/talos/upgrade.ts', ['--profile', 'lab', '--version', 'v1.13.2', '--yes'])
      assert.equal(r.code, 5, r.stderr)
      assert.match(r.stderr, message)
      assert.equal(ws.calls('upgrade').length, stopsAfter, 'no node after the failed gate is touched')
      assert.equal(upgradedNodes(ws).at(-1), node)
      assert.match(r.stderr, /not upgraded: .*lab-w02/)
    } finally {
      ws.cleanup()
    }
  })
}

test('an upgrade call that fails after taking effect does not stop the rollout: the node is checked, not upgraded again', async () => {
  const ws = workspace({ controlplanes: 3, workers: 1 })
  try {
    runningCluster(ws, 3, 1, {}, at('v1.13.0'))
    ws.setState({ ...ws.state(), faults: [{ command: 'upgrade', node: '127.0.10.12', effect: 'timeout-after-success' }] })
    const r = await ws.run('scripts/talos/upgrade.ts', ['--profile', 'lab', '--version', 'v1.13.2', '--yes'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /talosctl upgrade of lab-cp02 failed: .*DeadlineExceeded.*checking the node/)
    assert.deepEqual(upgradedNodes(ws), ['127.0.10.11', '127.0.10.12', '127.0.10.13', '127.0.10.21'], 'each node upgraded once')
    assert.equal(ws.state().nodes['127.0.10.12'].upgrades, 1)
  } finally {
    ws.cleanup()
  }
})

test('refused before any node: a version path that skips a minor, an unhealthy cluster, no terminal without --yes', async () => {
  const ws = workspace({ controlplanes: 3, workers: 1 })
  try {
    runningCluster(ws, 3, 1, { '127.0.10.21': at('v1.11.5') }, at('v1.12.6'))
    const path = await ws.run('scripts/talos/upgrade.ts', ['--profile', 'lab', '--version', 'v1.13.2', '--yes'])
    assert.equal(path.code, 7, path.stderr)
    assert.match(path.stderr, /skips a minor release[\s\S]*latest v1\.12\.x patch first/)

    runningCluster(ws, 3, 1, { '127.0.10.13': { healthy: false } }, at('v1.13.0'))
    const sick = await ws.run('scripts/talos/upgrade.ts', ['--profile', 'lab', '--version', 'v1.13.2', '--yes'])
    assert.equal(sick.code, 5, sick.stderr)
    assert.match(sick.stderr, /upgrade stopped before the first node/)

    runningCluster(ws, 3, 1, {}, at('v1.13.0'))
    const noTty = await ws.run('scripts/talos/upgrade.ts', ['--profile', 'lab', '--version', 'v1.13.2'])
    assert.equal(noTty.code, 7, noTty.stderr)
    assert.match(noTty.stderr, /1\. lab-cp01 \(controlplane[\s\S]*4\. lab-w01/)
    assert.equal(ws.calls('upgrade').length, 0)

    const bad = await ws.run('scripts/talos/upgrade.ts', ['--profile', 'lab', '--version', '1.13', '--yes'])
    assert.equal(bad.code, 1, bad.stderr)
    assert.match(bad.stderr, /not an exact Talos release/)
  } finally {
    ws.cleanup()
  }
})

test('upgrade-k8s: --dry-run runs only the dry run; the upgrade runs the dry run first, then the upgrade', async () => {
  const ws = workspace({ controlplanes: 3, workers: 1 })
  try {
    runningCluster(ws, 3, 1)
    const dry = await ws.run('scripts/talos/upgrade-k8s.ts', ['--profile', 'lab', '--version', '1.35.2', '--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    assert.match(dry.stdout, /would upgrade 1\.35\.0 -> 1\.35\.2/)
    assert.deepEqual(ws.calls('upgrade-k8s').map((a) => a.includes('--dry-run')), [true])

    const noTty = await ws.run('scripts/talos/upgrade-k8s.ts', ['--profile', 'lab', '--version', '1.35.2'])
    assert.equal(noTty.code, 7, noTty.stderr)
    assert.equal(ws.state().cluster.kubernetes, undefined)

    const r = await ws.run('scripts/talos/upgrade-k8s.ts', ['--profile', 'lab', '--version', '1.35.2', '--yes'])
    assert.equal(r.code, 0, r.stderr)
    const calls = ws.calls('upgrade-k8s').slice(2)
    assert.deepEqual(calls.map((a) => a.includes('--dry-run')), [true, false])
    assert.ok(calls.every((a) => a[a.indexOf('--to') + 1] === '1.35.2' && nodeArg(a) === '127.0.10.11'))
    assert.equal(ws.state().cluster.kubernetes, '1.35.2')
  } finally {
    ws.cleanup()
  }
})
