// Template creation with narrow tokens: every node's download, create and convert privileges are
// checked before the first change; the refusal names what is missing; PVE's 'or' for download-url
// (Sys.AccessNetwork on the node, or Sys.Audit + Sys.Modify on /) never refuses a valid token.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { apiClient, startSimulator, type Simulator } from '../helpers/sim.ts'
import { runScript } from '../helpers/run.ts'
import { TOOL_PRIVILEGES } from '../../scripts/lib/pve/privileges.ts'
import { describeTemplate } from '../../scripts/lib/template/spec.ts'

let sim: Simulator
let env: Record<string, string>
const URL = 'https://cloud.example.org/images/noble-server-cloudimg-amd64.img'
const SHA = 'e'.repeat(64)

// What a template build touches besides download-url's network privilege (cloudTemplateParams:
// cores/cpu, memory, machine/scsihw/vga/serial, name/tags/agent/boot, net0 on vmbr0, disks).
const BUILD = ['VM.Allocate', 'VM.Config.CPU', 'VM.Config.Memory', 'VM.Config.HWType', 'VM.Config.Options', 'VM.Config.Network', 'Datastore.AllocateSpace', 'Datastore.AllocateTemplate', 'SDN.Use']
const READ = ['VM.Audit', 'Datastore.Audit']

before(async () => {
  sim = await startSimulator({ timeFactor: 0.001, inventory: { nodes: 3, vms: [] } })
  const dir = await mkdtemp(join(tmpdir(), 'pm-tplperm-'))
  env = { ...sim.env(), PVE_CONFIG: sim.writeClusterConfig(join(dir, 'cluster-config.yaml')) }
  sim.control.addUrl(URL, 600 * 1024 * 1024)
  const api = apiClient(sim)
  const roles: Record<string, string[]> = {
    TplRead: READ,
    TplBuild: BUILD,
    TplBuildNoCpu: BUILD.filter((p) => p !== 'VM.Config.CPU'),
    TplNet: ['Sys.AccessNetwork'],
    TplLegacyNet: ['Sys.Audit', 'Sys.Modify'],
    TplTool: TOOL_PRIVILEGES.map((p) => p.privilege),
    TplConvert: ['VM.Audit', 'VM.Allocate'],
  }
  for (const [roleid, privs] of Object.entries(roles)) await api.post('/access/roles', { roleid, privs: privs.join(',') })
})
after(() => sim.stop())

type Acl = { path: string; role: string }[]
let tokens = 0
function runAs(acl: Acl, args: string[]) {
  const token = sim.control.createToken(`tpl${++tokens}@pve`, 'ops', { acl })
  const from = sim.requests.length
  return runScript('scripts/template/create.ts', args, { env: { ...env, PVE_TOKEN_ID: token.id, PVE_TOKEN_SECRET: token.secret } }).then((r) => {
    const mine = sim.requests.slice(from).filter((q) => q.authid === token.id)
    assert.ok(!r.stdout.includes(token.secret) && !r.stderr.includes(token.secret), 'the secret never shows')
    return { ...r, writes: mine.filter((q) => q.method !== 'GET'), requests: mine }
  })
}
const templates = (name: string) => sim.control.state().vms.filter((v) => (v.config as Record<string, string>).name === name)
// another checksum gives another import file name, so that test downloads afresh
const args = (name: string, sha = SHA, ...more: string[]) => ['--url', URL, '--sha256', sha, '--name', name, '--output', 'json', ...more]

test('network privilege on one node of three: refused before any download, naming the other nodes and the legacy alternative', async () => {
  const r = await runAs([{ path: '/', role: 'TplRead' }, { path: '/', role: 'TplBuild' }, { path: '/nodes/pve1', role: 'TplNet' }], args('narrow'))
  assert.equal(r.code, 4, r.stderr)
  assert.match(r.stderr, /lacks privileges for this operation: Sys\.AccessNetwork on \/nodes\/pve2, \/nodes\/pve3 \(or Sys\.Audit \+ Sys\.Modify on \/\)/)
  assert.doesNotMatch(r.stderr, /\/nodes\/pve1/)
  assert.deepEqual(r.writes, [], 'not a single mutating request')
  assert.ok(r.requests.some((q) => q.path === '/access/permissions'))
  assert.deepEqual(templates('narrow'), [])
})

test('a config privilege missing on the new VMs: refused, naming the VM paths', async () => {
  const r = await runAs([{ path: '/', role: 'TplRead' }, { path: '/', role: 'TplBuildNoCpu' }, { path: '/nodes', role: 'TplNet' }], args('nocpu'))
  assert.equal(r.code, 4, r.stderr)
  assert.match(r.stderr, /VM\.Config\.CPU on \/vms\/\d+, \/vms\/\d+, \/vms\/\d+(;|$)/m)
  assert.doesNotMatch(r.stderr, /AccessNetwork|VM\.Allocate|Datastore/)
  assert.deepEqual(r.writes, [])
  assert.deepEqual(templates('nocpu'), [])
})

test('exactly the privileges the build needs: three templates; a re-run checks nothing and changes nothing', async () => {
  const acl = [{ path: '/', role: 'TplRead' }, { path: '/', role: 'TplBuild' }, { path: '/nodes', role: 'TplNet' }]
  let r = await runAs(acl, args('exact'))
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout).map((t: { node: string; action: string }) => `${t.node}:${t.action}`), ['pve1:created', 'pve2:created', 'pve3:created'])
  assert.ok(r.writes.every((q) => q.status === 200), 'no request of the run was refused')
  assert.ok(templates('exact').every((v) => (v.config as Record<string, string>).template === '1'))
  r = await runAs(acl, args('exact'))
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.writes, [])
  assert.ok(!r.requests.some((q) => q.path === '/access/permissions'), 'nothing to do, nothing to check')
})

test("download-url's other branch: Sys.Audit + Sys.Modify on / instead of Sys.AccessNetwork is accepted", async () => {
  const r = await runAs([{ path: '/', role: 'TplRead' }, { path: '/', role: 'TplBuild' }, { path: '/', role: 'TplLegacyNet' }], args('legacy', 'f'.repeat(64), '--node', 'pve3'))
  assert.equal(r.code, 0, r.stderr)
  assert.equal(JSON.parse(r.stdout)[0].action, 'created')
  assert.ok(r.writes.some((q) => q.path.endsWith('/download-url') && q.status === 200))
})

test("the tool's least-privilege role (pve:bootstrap:rbac, pve:check) is enough for template creation", async () => {
  const r = await runAs([{ path: '/', role: 'TplTool' }], args('tool-role', 'a'.repeat(64), '--node', 'pve2'))
  assert.equal(r.code, 0, r.stderr)
  assert.equal(JSON.parse(r.stdout)[0].action, 'created')
  assert.ok(r.writes.some((q) => q.path.endsWith('/download-url') && q.status === 200))
})

test('an interrupted run (VM created, not converted) is finished with VM.Allocate on that VM alone; without it, refused', async () => {
  const api = apiClient(sim)
  const upid = await api.post('/nodes/pve1/qemu', { vmid: 9500, name: 'half', description: describeTemplate('half-built', { url: URL, sha256: SHA }), scsi0: 'local-lvm:1' })
  assert.equal((await api.wait(upid)).status.exitstatus, 'OK')
  let r = await runAs([{ path: '/', role: 'TplRead' }], args('half', SHA, '--node', 'pve1'))
  assert.equal(r.code, 4, r.stderr)
  assert.match(r.stderr, /lacks privileges for this operation: VM\.Allocate on \/vms\/9500$/m)
  assert.deepEqual(r.writes, [])
  r = await runAs([{ path: '/', role: 'TplRead' }, { path: '/vms/9500', role: 'TplConvert' }], args('half', SHA, '--node', 'pve1'))
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout).map((t: { vmid: number; action: string }) => `${t.vmid}:${t.action}`), ['9500:finished'])
  assert.equal((sim.control.vm(9500)!.config as Record<string, string>).template, '1')
})
