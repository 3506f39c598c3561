// Single-VM snapshots and backups against the simulator.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makePki, sendJson, startTestServer } from '../helpers/https.ts'
import { sandbox, vmState, type Sandbox } from './sim-helpers.ts'

let sb: Sandbox
before(async () => {
  sb = await sandbox()
})
after(() => sb.stop())

test('snapshot create (generated name), list, rollback and delete with confirmations', async () => {
  let r = await sb.run('snap/create', ['--vmid', '1003', '--label', 'pre', '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  const name = JSON.parse(r.stdout).name as string
  assert.match(name, /^pm-pre-\d{14}$/)
  r = await sb.run('snap/list', ['--vmid', '1003'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, new RegExp(`${name}.*yes`))
  const mark = sb.mark()
  r = await sb.run('snap/rollback', ['--vmid', '1003', '--name', name])
  assert.equal(r.code, 7, 'rollback needs confirmation')
  r = await sb.run('snap/delete', ['--vmid', '1003', '--name', name])
  assert.equal(r.code, 7, 'delete needs confirmation')
  r = await sb.run('snap/delete', ['--vmid', '1003', '--name', 'nosuch', '--yes'])
  assert.equal(r.code, 3)
  assert.deepEqual(sb.mutations(mark), [])
  r = await sb.run('snap/rollback', ['--vmid', '1003', '--name', name, '--yes'])
  assert.equal(r.code, 0, r.stderr)
  r = await sb.run('snap/delete', ['--vmid', '1003', '--name', name, '--yes'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(vmState(sb.sim, 1003)!.snapshots, [])
  r = await sb.run('snap/create', ['--vmid', '1003', '--name', 'current'])
  assert.equal(r.code, 1)
})

test('backup create, list, restore as a new VM with new MACs, delete', async () => {
  let r = await sb.run('backup/create', ['--vmid', '1003', '--storage', 'local', '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  const job = JSON.parse(r.stdout)[0]
  assert.equal(job.node, 'pve2')
  assert.match(job.upid, /^UPID:pve2:.*:vzdump:/)
  r = await sb.run('backup/list', ['--vmid', '1003', '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  const [vol] = JSON.parse(r.stdout) as { volid: string; vmid: number }[]
  assert.match(vol.volid, /^local:backup\/vzdump-qemu-1003-/)
  r = await sb.run('backup/restore', ['--volid', vol.volid, '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  const restored = JSON.parse(r.stdout) as { vmid: number }
  assert.ok(restored.vmid >= 1000 && restored.vmid !== 1003)
  const mac = (id: number) => /([0-9A-F]{2}:){5}[0-9A-F]{2}/i.exec(String(vmState(sb.sim, id)!.config.net0))?.[0]
  assert.notEqual(mac(restored.vmid), mac(1003))
  const post = sb.sim.requests.find((q) => q.method === 'POST' && q.params.archive === vol.volid)!
  assert.equal(post.params.unique, '1')
  r = await sb.run('backup/restore', ['--volid', vol.volid, '--vmid', '1000'])
  assert.equal(r.code, 6)
  const mark = sb.mark()
  r = await sb.run('backup/delete', ['--volid', vol.volid])
  assert.equal(r.code, 7)
  assert.deepEqual(sb.mutations(mark), [])
  // --no-wait: the simulator's imgdel UPID carries the volid as its id, which real PVE's UPID
  // format cannot (no ':' or '/' in the id); waiting is covered by every other task
  r = await sb.run('backup/delete', ['--volid', vol.volid, '--yes', '--no-wait'])
  assert.equal(r.code, 0, r.stderr)
  await sb.sim.control.idle()
  r = await sb.run('backup/list', ['--vmid', '1003', '--output', 'json'])
  assert.deepEqual(JSON.parse(r.stdout), [])
})

test('backup by selector runs one vzdump per node', async () => {
  const mark = sb.mark()
  const r = await sb.run('backup/create', ['--selector', '@tag-web', '--storage', 'local'])
  assert.equal(r.code, 0, r.stderr)
  const posts = sb.mutations(mark).filter((m) => m.path.endsWith('/vzdump'))
  assert.deepEqual(posts.map((p) => p.params.vmid).sort(), ['1000', '1001'])
  assert.deepEqual(posts.map((p) => p.path).sort(), ['/nodes/pve1/vzdump', '/nodes/pve2/vzdump'])
})

test('backup jobs are read from /cluster/backup and shown as a table', async () => {
  // the simulator has no backup jobs endpoint: a PVE-shaped HTTPS stand-in answers instead
  const pki = makePki()
  const jobs = [{ id: 'backup-1a2b', schedule: 'sun 01:00', enabled: 1, storage: 'nfs', all: 1, exclude: '1002', mode: 'snapshot', 'next-run': 1790000000 }]
  const server = await startTestServer(pki.server, (req, res) => sendJson(res, 200, { data: req.url === '/api2/json/cluster/backup' ? jobs : null }))
  try {
    const config = join(sb.dir, 'jobs-config.yaml')
    writeFileSync(config, `cluster:\n  name: t\n  nodes:\n    - name: pve1\n      host: ${server.host}\n      port: ${server.port}\ntls:\n  ca_file: ${pki.caFile}\n`)
    const r = await sb.run('backup/jobs', [], { env: { PVE_CONFIG: config } })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /backup-1a2b\s+sun 01:00\s+yes\s+nfs\s+all except 1002\s+snapshot/)
    assert.deepEqual(server.requests.map((q) => `${q.method} ${q.url}`), ['GET /api2/json/cluster/backup'])
  } finally {
    await server.close()
  }
})
