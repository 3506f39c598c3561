// talos:etcd:backup through the talosctl stand-in: a timestamped 0600 snapshot from a control plane
// whose etcd runs, retention that prunes only this cluster's snapshots, no partial file on failure.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runningCluster, workspace } from './fixture.ts'
import { snapshotName } from '../../scripts/lib/talos/etcd-backup.ts'

test('snapshot names sort by time', () => {
  assert.equal(snapshotName('lab', new Date('2026-12-06T15:30:07.123Z')), 'lab-etcd-20261206T153007Z.snapshot')
  assert.ok(snapshotName('lab', new Date('2026-01-02T00:00:00Z')) < snapshotName('lab', new Date('2026-10-01T00:00:00Z')))
})

test('a snapshot is written with mode 0600 and the oldest of this cluster beyond --keep are pruned', async () => {
  const ws = workspace({ controlplanes: 3, workers: 1 })
  try {
    runningCluster(ws, 3, 1)
    const dir = join(ws.dir, 'state/lab/backups')
    mkdirSync(dir, { recursive: true })
    const old = ['lab-etcd-20250101T000000Z.snapshot', 'lab-etcd-20250201T000000Z.snapshot', 'lab-etcd-20250301T000000Z.snapshot']
    const foreign = ['other-etcd-20240101T000000Z.snapshot', 'notes.txt', 'lab-etcd-manual.snapshot']
    for (const f of [...old, ...foreign]) writeFileSync(join(dir, f), 'x')

    const r = await ws.run('scripts/talos/etcd-backup.ts', ['--profile', 'lab', '--keep', '2'])
    assert.equal(r.code, 0, r.stderr)
    const file = r.stdout.trim()
    assert.match(file, /\/state\/lab\/backups\/lab-etcd-\d{8}T\d{6}Z\.snapshot$/)
    assert.equal(statSync(file).mode & 0o777, 0o600)
    assert.equal(statSync(dir).mode & 0o777, 0o700)
    assert.match(readFileSync(file, 'utf8'), /SIMULATED ETCD SNAPSHOT node=127\.0\.10\.11 members=3/)
    assert.deepEqual(readdirSync(dir).sort(), [...foreign, old[2], file.split('/').pop()!].sort())
  } finally {
    ws.cleanup()
  }
})

test('the snapshot comes from the next control plane when the first one is down; a failed snapshot leaves no file', async () => {
  const ws = workspace({ controlplanes: 3, workers: 0 })
  try {
    runningCluster(ws, 3, 0, { '127.0.10.11': { state: 'off' } })
    const r = await ws.run('scripts/talos/etcd-backup.ts', ['--profile', 'lab'])
    assert.equal(r.code, 0, r.stderr)
    const snaps = ws.calls('etcd').filter((a) => a[1] === 'snapshot')
    assert.equal(snaps[0][snaps[0].indexOf('--nodes') + 1], '127.0.10.12')

    ws.setState({ ...ws.state(), faults: [{ command: 'etcd snapshot', effect: 'error', message: 'rpc error: code = Unavailable desc = stream closed' }] })
    const dir = join(ws.dir, 'state/lab/backups')
    const before = readdirSync(dir)
    const failed = await ws.run('scripts/talos/etcd-backup.ts', ['--profile', 'lab'])
    assert.equal(failed.code, 5, failed.stderr)
    assert.match(failed.stderr, /stream closed/)
    assert.deepEqual(readdirSync(dir), before, 'no new or partial file')
  } finally {
    ws.cleanup()
  }
})
