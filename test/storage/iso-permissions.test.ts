// pve:iso:upload with narrow tokens: the privileges of every node's transfer are checked before the
// first one; download-url's 'or' (Sys.AccessNetwork on the node, or Sys.Audit + Sys.Modify on /)
// is honoured, and a file upload asks only for Datastore.AllocateTemplate.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { apiClient, startSimulator, type Simulator } from '../helpers/sim.ts'
import { runScript } from '../helpers/run.ts'

let sim: Simulator
let env: Record<string, string>
let dir: string
const URL = 'https://mirror.example.org/alpine-virt-3.22.iso'

before(async () => {
  sim = await startSimulator({ timeFactor: 0.001, inventory: { nodes: 3, vms: [] } })
  dir = await mkdtemp(join(tmpdir(), 'pm-isoperm-'))
  env = { ...sim.env(), PVE_CONFIG: sim.writeClusterConfig(join(dir, 'cluster-config.yaml')) }
  sim.control.addUrl(URL, 60 * 1024 * 1024)
  const api = apiClient(sim)
  const roles: Record<string, string[]> = {
    // one role per path: PVE's ACL on /storage/local replaces what /storage would propagate there
    IsoRead: ['Datastore.Audit'],
    IsoWrite: ['Datastore.Audit', 'Datastore.AllocateTemplate'],
    IsoNet: ['Sys.AccessNetwork'],
    IsoLegacyNet: ['Sys.Audit', 'Sys.Modify'],
  }
  for (const [roleid, privs] of Object.entries(roles)) await api.post('/access/roles', { roleid, privs: privs.join(',') })
})
after(() => sim.stop())

let tokens = 0
async function runAs(acl: { path: string; role: string }[], args: string[]) {
  const token = sim.control.createToken(`iso${++tokens}@pve`, 'ops', { acl })
  const from = sim.requests.length
  const r = await runScript('scripts/iso/upload.ts', [...args, '--output', 'json'], { env: { ...env, PVE_TOKEN_ID: token.id, PVE_TOKEN_SECRET: token.secret } })
  assert.ok(!r.stdout.includes(token.secret) && !r.stderr.includes(token.secret), 'the secret never shows')
  const mine = sim.requests.slice(from).filter((q) => q.authid === token.id)
  return { ...r, writes: mine.filter((q) => q.method !== 'GET') }
}
const isos = () => sim.control.state().volumes.filter((v) => v.volid.startsWith('local:iso/')).map((v) => `${v.node}:${v.volid}`).sort()

test('URL: network privilege on one node only: refused before the first download, naming the others', async () => {
  const r = await runAs([{ path: '/storage/local', role: 'IsoWrite' }, { path: '/nodes/pve1', role: 'IsoNet' }], ['--url', URL])
  assert.equal(r.code, 4, r.stderr)
  assert.match(r.stderr, /Sys\.AccessNetwork on \/nodes\/pve2, \/nodes\/pve3 \(or Sys\.Audit \+ Sys\.Modify on \/\)/)
  assert.doesNotMatch(r.stderr, /\/nodes\/pve1|AllocateTemplate/)
  assert.deepEqual(r.writes, [], 'not a single mutating request')
  assert.deepEqual(isos(), [])
})

test('URL: exactly sufficient (AllocateTemplate on the storage, AccessNetwork on the nodes): every node downloads', async () => {
  const r = await runAs([{ path: '/storage/local', role: 'IsoWrite' }, { path: '/nodes', role: 'IsoNet' }], ['--url', URL])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout).map((x: { node: string; action: string }) => `${x.node}:${x.action}`), ['pve1:downloaded', 'pve2:downloaded', 'pve3:downloaded'])
  assert.equal(r.writes.filter((q) => q.path.endsWith('/download-url') && q.status === 200).length, 3)
})

test('URL: Sys.Audit + Sys.Modify on / is the other accepted way', async () => {
  const r = await runAs([{ path: '/storage/local', role: 'IsoWrite' }, { path: '/', role: 'IsoLegacyNet' }], ['--url', URL, '--filename', 'alpine-legacy.iso', '--node', 'pve2'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout), [{ node: 'pve2', volid: 'local:iso/alpine-legacy.iso', action: 'downloaded' }])
})

test('FILE: Datastore.AllocateTemplate missing is named with 0 requests; with it alone (no network privilege) the upload succeeds', async () => {
  const file = join(dir, 'small.iso')
  await writeFile(file, Buffer.alloc(32 * 1024, 3))
  let r = await runAs([{ path: '/storage/local', role: 'IsoRead' }, { path: '/nodes', role: 'IsoNet' }], ['--file', file, '--node', 'pve3'])
  assert.equal(r.code, 4, r.stderr)
  assert.match(r.stderr, /lacks privileges for this operation: Datastore\.AllocateTemplate on \/storage\/local$/m)
  assert.deepEqual(r.writes, [])
  r = await runAs([{ path: '/storage/local', role: 'IsoWrite' }], ['--file', file, '--node', 'pve3'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout), [{ node: 'pve3', volid: 'local:iso/small.iso', action: 'uploaded' }])
})
