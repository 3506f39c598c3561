// Storage views, ISO upload and orphaned disks against the simulator.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { apiClient, startSimulator, type ApiClient, type Simulator } from '../helpers/sim.ts'
import { runScript } from '../helpers/run.ts'

let sim: Simulator
let api: ApiClient
let env: Record<string, string>
let dir: string

before(async () => {
  sim = await startSimulator({
    timeFactor: 0.001,
    inventory: {
      nodes: 3,
      vms: [
        { vmid: 3000, node: 'pve1', name: 'ours', running: false, disks: [8, 4], tags: 'pm-managed' },
        { vmid: 3003, node: 'pve1', name: 'ours2', running: false, disks: [8, 2], tags: 'pm-managed' },
        { vmid: 3001, node: 'pve2', name: 'foreign', running: false, disks: [8, 4] },
        { vmid: 3002, node: 'pve3', name: 'gone', running: false, disks: [6] },
      ],
    },
  })
  api = apiClient(sim)
  dir = await mkdtemp(join(tmpdir(), 'pm-storage-'))
  env = { ...sim.env(), PVE_CONFIG: sim.writeClusterConfig(join(dir, 'cluster-config.yaml')) }
})
after(() => sim.stop())

const run = (script: string, args: string[]) => runScript(`scripts/${script}`, args, { env })
const detach = async (vmid: number, node: string, key: string) => api.put(`/nodes/${node}/qemu/${vmid}/config`, { delete: key })
const volumes = () => sim.control.state().volumes.map((v) => v.volid)

test('storage list per node and cluster-wide; content of a storage', async () => {
  let r = await run('storage/list.ts', ['--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  const rows = JSON.parse(r.stdout)
  assert.ok(rows.some((s: { node: string; storage: string }) => s.node === 'pve2' && s.storage === 'local-lvm'))
  r = await run('storage/list.ts', ['--cluster', '--output', 'json'])
  const summary = JSON.parse(r.stdout) as { storage: string; shared: boolean; total: number; node: string }[]
  const local = summary.find((s) => s.storage === 'local-lvm')!
  const perNode = rows.filter((s: { storage: string }) => s.storage === 'local-lvm')
  assert.equal(local.total, perNode.reduce((a: number, s: { total: number }) => a + s.total, 0), 'local storage summed over nodes')
  const shared = summary.find((s) => s.shared)
  if (shared) assert.equal(shared.total, rows.find((s: { storage: string }) => s.storage === shared.storage).total, 'shared storage counted once')
  r = await run('storage/list.ts', [])
  assert.match(r.stdout, /^NODE\s+STORAGE\s+TYPE\s+CONTENT/m)

  r = await run('storage/content.ts', ['--storage', 'local-lvm', '--content', 'images', '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  const items = JSON.parse(r.stdout) as { volid: string; node: string }[]
  assert.ok(items.some((i) => i.volid === 'local-lvm:vm-3001-disk-0' && i.node === 'pve2'))
  r = await run('storage/content.ts', ['--storage', 'nope'])
  assert.equal(r.code, 3)
})

test('orphans: unused disks and ownerless volumes are found; snapshot-referenced disks are not', async () => {
  // VM 3000: scsi1 detached after a snapshot that still uses it; VM 3003: scsi1 detached, free
  const snap = await api.post('/nodes/pve1/qemu/3000/snapshot', { snapname: 'keep' })
  await api.wait(snap)
  await detach(3000, 'pve1', 'scsi1')
  await detach(3003, 'pve1', 'scsi1')
  await detach(3001, 'pve2', 'scsi1') // unused disk of a VM the tool does not own
  sim.control.mutate(3002, 'delete') // the VM vanishes, its volume stays
  const r = await run('disks/orphans.ts', ['--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  const { orphans, kept } = JSON.parse(r.stdout) as { orphans: { volid: string; kind: string; ownerManaged: boolean }[]; kept: { volid: string; reason: string }[] }
  const unusedOf = (vmid: number) => {
    const cfg = sim.control.vm(vmid)!.config as Record<string, string>
    return Object.keys(cfg).filter((k) => /^unused\d+$/.test(k)).map((k) => cfg[k].split(',')[0])
  }
  const [snapDisk] = unusedOf(3000)
  const [freeDisk] = unusedOf(3003)
  assert.ok(kept.some((k) => k.volid === snapDisk && /snapshot 'keep'/.test(k.reason)), 'the snapshot-referenced disk is kept, with the reason')
  assert.ok(!orphans.some((o) => o.volid === snapDisk))
  const ids = orphans.map((o) => o.volid)
  assert.ok(ids.includes(freeDisk))
  assert.ok(ids.includes('local-lvm:vm-3002-disk-0'))
  assert.ok(ids.some((v) => v.startsWith('local-lvm:vm-3001-')))
})

test('orphans:remove checks the privileges for every deletion before asking, and names what is missing', async () => {
  // may manage VMs (unusedN entries) but not delete volumes from a storage (Datastore.Allocate)
  const token = sim.control.createToken('disks@pve', 'ops', { acl: [{ path: '/', role: 'PVEAuditor' }, { path: '/', role: 'PVEVMAdmin' }] })
  const before = volumes()
  const mark = sim.requests.length
  const r = await runScript('scripts/disks/orphans-remove.ts', ['--yes'], { env: { ...env, PVE_TOKEN_ID: token.id, PVE_TOKEN_SECRET: token.secret } })
  assert.equal(r.code, 4, r.stderr)
  assert.match(r.stderr, /lacks privileges for this operation: Datastore\.Allocate on \/storage\/local-lvm/)
  assert.doesNotMatch(r.stderr, /VM\.Config\.Disk/, 'what the token may do is not listed')
  assert.deepEqual(sim.requests.slice(mark).filter((q) => q.method !== 'GET'), [], 'nothing was deleted')
  assert.deepEqual(volumes(), before)
})

test('orphans:remove refuses without a terminal, removes only what it may, never snapshot disks', async () => {
  const before = volumes()
  let r = await run('disks/orphans-remove.ts', [])
  assert.equal(r.code, 7)
  assert.deepEqual(volumes(), before, 'nothing removed without confirmation')
  r = await run('disks/orphans-remove.ts', ['--dry-run'])
  assert.equal(r.code, 0)
  assert.deepEqual(volumes(), before)
  r = await run('disks/orphans-remove.ts', ['--yes'])
  assert.equal(r.code, 0, r.stderr)
  const after = volumes()
  assert.ok(!after.includes('local-lvm:vm-3002-disk-0'), 'ownerless volume removed')
  assert.ok(after.some((v) => v.startsWith('local-lvm:vm-3001-disk-1')), 'foreign VM disk kept')
  const unused = (vmid: number) => Object.keys(sim.control.vm(vmid)!.config).filter((k) => /^unused\d+$/.test(k))
  assert.equal(unused(3003).length, 0, 'the free unused disk of our VM is gone')
  assert.equal(unused(3000).length, 1, 'the snapshot-referenced unused disk is left')
  const cfg = sim.control.vm(3000)!.config as Record<string, string>
  assert.ok(after.includes(cfg[unused(3000)[0]].split(',')[0]))
  assert.match(r.stderr, /3001.*does not own/)
})

test('iso upload: a local file through the API, a URL through download-url, both idempotent', async () => {
  const file = join(dir, 'tiny.iso')
  await writeFile(file, Buffer.alloc(64 * 1024, 7))
  const sha = createHash('sha256').update(Buffer.alloc(64 * 1024, 7)).digest('hex')
  let r = await run('iso/upload.ts', ['--file', file, '--node', 'pve2', '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout), [{ node: 'pve2', volid: 'local:iso/tiny.iso', action: 'uploaded' }])
  const upload = sim.requests.find((q) => q.method === 'POST' && q.path.endsWith('/storage/local/upload'))!
  assert.equal(upload.node, 'pve2', 'the upload went to the node that owns the storage')
  r = await run('iso/upload.ts', ['--file', file, '--node', 'pve2', '--sha256', sha])
  assert.equal(r.code, 0)
  assert.match(r.stdout, /exists/)
  r = await run('iso/upload.ts', ['--file', file, '--sha256', 'f'.repeat(64)])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /SHA-256 is/)

  const url = 'https://mirror.example.org/debian-13-netinst.iso'
  sim.control.addUrl(url, 600 * 1024 * 1024)
  r = await run('iso/upload.ts', ['--url', url, '--sha256', 'a'.repeat(64), '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout).map((x: { node: string; action: string }) => `${x.node}:${x.action}`), ['pve1:downloaded', 'pve2:downloaded', 'pve3:downloaded'])
  const dl = sim.requests.filter((q) => q.path.endsWith('/download-url'))
  assert.equal(dl[0].params?.checksum, 'a'.repeat(64))
  assert.equal(dl[0].params?.['checksum-algorithm'], 'sha256')
  r = await run('iso/upload.ts', ['--url', `${url}.xz`])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /cannot decompress xz/)
})
