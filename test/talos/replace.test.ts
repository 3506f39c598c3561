// talos:node:replace through the talosctl stand-in (configs by the real talosctl): etcd snapshot
// first, the old node leaves, the machine at its address gets the node's config, membership and
// health are the gate.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { requireRealTalosctl, runningCluster, secretValues, workspace, type Workspace } from './fixture.ts'

requireRealTalosctl()

const nodeArg = (argv: string[]) => argv[argv.indexOf('--nodes') + 1]
/** Index in the call log of the first talosctl call matching. */
const firstIndex = (ws: Workspace, match: (argv: string[]) => boolean) => ws.log().findIndex((e) => e.tool === 'talosctl' && match(e.argv))

async function configuredCluster(ws: Workspace, cps: number, workers: number, override: Record<string, object> = {}) {
  const cfg = await ws.run('scripts/talos/config.ts', ['--profile', 'lab'])
  assert.equal(cfg.code, 0, cfg.stderr)
  runningCluster(ws, cps, workers, override)
}

test('a live control plane is replaced in place: snapshot, graceful reset, config applied again, etcd member, healthy', async () => {
  const ws = workspace({ controlplanes: 3, workers: 1 })
  try {
    await configuredCluster(ws, 3, 1)
    const r = await ws.run('scripts/talos/node-replace.ts', ['--profile', 'lab', '--node', 'lab-cp02', '--yes', '--debug'])
    assert.equal(r.code, 0, r.stderr)
    const everything = JSON.stringify(ws.log()) + r.stdout + r.stderr
    for (const secret of secretValues(ws)) assert.ok(!everything.includes(secret), 'a secret reached argv or output')
    const snapshot = firstIndex(ws, (a) => a[0] === 'etcd' && a[1] === 'snapshot')
    const reset = firstIndex(ws, (a) => a[0] === 'reset' && nodeArg(a) === '127.0.10.12')
    const apply = firstIndex(ws, (a) => a[0] === 'apply-config' && nodeArg(a) === '127.0.10.12')
    const health = firstIndex(ws, (a) => a[0] === 'health')
    assert.ok(snapshot >= 0 && snapshot < reset && reset < apply && apply < health, `order: snapshot ${snapshot}, reset ${reset}, apply ${apply}, health ${health}`)
    const applyArgs = ws.calls('apply-config')[0]
    assert.ok(applyArgs.includes('--insecure'))
    assert.equal(applyArgs[applyArgs.indexOf('--file') + 1], join(ws.dir, 'state/lab/lab-cp02.yaml'))
    const node = ws.state().nodes['127.0.10.12']
    assert.equal(node.state, 'configured')
    assert.equal(node.role, 'controlplane')
    assert.equal(node.hostname, 'lab-cp02')
    assert.equal(readdirSync(join(ws.dir, 'state/lab/backups')).length, 1)
    assert.equal(ws.state().cluster.bootstrapCalls, 1, 'never bootstrapped again')
  } finally {
    ws.cleanup()
  }
})

test('a dead control plane is removed from etcd by a peer; the new machine at its address joins', async () => {
  const ws = workspace({ controlplanes: 3, workers: 0 })
  try {
    // The VM is down; a new one at the same address starts answering after a few contacts.
    await configuredCluster(ws, 3, 0, { '127.0.10.13': { state: 'off', powerOnAfter: 4 } })
    const r = await ws.run('scripts/talos/node-replace.ts', ['--profile', 'lab', '--node', 'lab-cp03', '--yes'], { env: { PM_TALOS_POLL_MS: '10' } })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(ws.calls('reset').length, 0)
    const remove = firstIndex(ws, (a) => a[0] === 'etcd' && a[1] === 'remove-member')
    const apply = firstIndex(ws, (a) => a[0] === 'apply-config' && nodeArg(a) === '127.0.10.13')
    assert.ok(remove >= 0 && remove < apply)
    assert.ok(ws.calls('etcd').filter((a) => a[1] === 'remove-member').every((a) => nodeArg(a) !== '127.0.10.13'))
    assert.equal(ws.state().nodes['127.0.10.13'].state, 'configured')
    assert.deepEqual(ws.state().cluster.excluded, [])
  } finally {
    ws.cleanup()
  }
})

test('a worker is replaced without a snapshot; --dry-run and a refused confirmation change nothing', async () => {
  const ws = workspace({ controlplanes: 1, workers: 2 })
  try {
    await configuredCluster(ws, 1, 2)
    const dry = await ws.run('scripts/talos/node-replace.ts', ['--profile', 'lab', '--node', 'lab-w02', '--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    assert.match(dry.stderr, /would replace lab-w02[\s\S]*reset --graceful[\s\S]*maintenance mode at 127\.0\.10\.22/)
    const noTty = await ws.run('scripts/talos/node-replace.ts', ['--profile', 'lab', '--node', 'lab-w02'])
    assert.equal(noTty.code, 7, noTty.stderr)
    assert.equal(ws.calls('reset').length + ws.calls('apply-config').length, 0)

    const r = await ws.run('scripts/talos/node-replace.ts', ['--profile', 'lab', '--node', 'lab-w02', '--yes'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(ws.calls('etcd').filter((a) => a[1] === 'snapshot').length, 0)
    assert.deepEqual(ws.calls('reset').map(nodeArg), ['127.0.10.22'])
    assert.deepEqual(ws.calls('apply-config').map(nodeArg), ['127.0.10.22'])
  } finally {
    ws.cleanup()
  }
})
