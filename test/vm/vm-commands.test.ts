// pve:vm:* against the simulator: power, set, resize, pending, delete, task log, locks.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { sandbox, vmState, type Sandbox } from './sim-helpers.ts'

let sb: Sandbox
before(async () => {
  sb = await sandbox()
})
after(() => sb.stop())

test('start, no-op start, --no-wait stop printing the UPID', async () => {
  let r = await sb.run('vm/start', ['--vmid', '1003'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /VM 1003 \(dev-1\) started/)
  assert.equal(vmState(sb.sim, 1003)?.status, 'running')

  const mark = sb.mark()
  r = await sb.run('vm/start', ['--vmid', '1003'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /nothing to do, already running/)
  assert.deepEqual(sb.mutations(mark), [])

  r = await sb.run('vm/stop', ['--vmid', '1003', '--no-wait'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout.trim(), /^UPID:pve2:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:qmstop:1003:[^:]+:$/)
  await sb.sim.control.idle()
  assert.equal(vmState(sb.sim, 1003)?.status, 'stopped')
})

test('shutdown with --timeout/--force-stop passes PVE its parameters; reboot of a stopped VM is refused', async () => {
  await sb.run('vm/start', ['--vmid', '1003'])
  const mark = sb.mark()
  let r = await sb.run('vm/shutdown', ['--vmid', '1003', '--timeout', '30', '--force-stop', '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(JSON.parse(r.stdout).result, 'done')
  const post = sb.mutations(mark).find((m) => m.path.endsWith('/status/shutdown'))
  assert.equal(post?.params.timeout, '30')
  assert.equal(post?.params.forceStop, '1')
  assert.equal(vmState(sb.sim, 1003)?.status, 'stopped')
  r = await sb.run('vm/reboot', ['--vmid', '1003'])
  assert.equal(r.code, 6)
  assert.match(r.stderr, /not running/)
})

test('suspend and resume a running VM', async () => {
  let r = await sb.run('vm/suspend', ['--vmid', '1000'])
  assert.equal(r.code, 0, r.stderr)
  r = await sb.run('vm/resume', ['--vmid', '1000'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /resumed/)
})

test('kill refuses without a terminal or --yes, and sends nothing', async () => {
  const mark = sb.mark()
  let r = await sb.run('vm/kill', ['--vmid', '1001'])
  assert.equal(r.code, 7)
  assert.match(r.stderr, /--yes/)
  assert.deepEqual(sb.mutations(mark), [])
  r = await sb.run('vm/kill', ['--vmid', '1001', '--yes'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(vmState(sb.sim, 1001)?.status, 'stopped')
  await sb.run('vm/start', ['--vmid', '1001'])
})

test('set sends only changes with the digest, reports pending, and a re-run sends nothing', async () => {
  const before = vmState(sb.sim, 1000)!.config
  const mac = /BC:24:11(:[0-9A-F]{2}){3}/i.exec(String(before.net0))![0]
  const args = ['--vmid', '1000', '--cores', '4', '--tags', 'Web,prod PM-managed', '--ip', '192.0.2.10/24', '--gw', '192.0.2.1', '--net', 'virtio,bridge=vmbr0,tag=20', '--sshkeys', 'ssh-ed25519 AAAAC3NzaTEST ops@example']
  let mark = sb.mark()
  let r = await sb.run('vm/set', args)
  assert.equal(r.code, 0, r.stderr)
  const puts = sb.mutations(mark)
  assert.equal(puts.length, 1)
  assert.equal(puts[0].method, 'PUT')
  assert.ok(puts[0].params.digest, 'the digest is sent')
  assert.equal(puts[0].params.tags, undefined, 'tags equal under normalisation are not sent')
  assert.equal(puts[0].params.cores, '4')
  assert.match(r.stdout, /cores\s+2\s+4\s+pending until restart/)
  assert.match(r.stderr, /cores stay pending until it is restarted/)
  const after = vmState(sb.sim, 1000)!
  assert.ok(String(after.config.net0).toUpperCase().includes(mac.toUpperCase()), 'the MAC is kept')
  assert.equal(after.config.ipconfig0, 'ip=192.0.2.10/24,gw=192.0.2.1')

  mark = sb.mark()
  r = await sb.run('vm/set', args)
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /nothing sent/)
  assert.deepEqual(sb.mutations(mark), [])

  r = await sb.run('vm/pending', ['--vmid', '1000', '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  assert.ok(JSON.parse(r.stdout).some((p: { key: string }) => p.key === 'cores'))
})

test('set --dry-run and bad input change nothing', async () => {
  const mark = sb.mark()
  let r = await sb.run('vm/set', ['--vmid', '1003', '--memory', '4096', '--dry-run'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /would be applied/)
  r = await sb.run('vm/set', ['--vmid', '1003', '--tags', 'ok,bad/tag'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /invalid tag 'bad\/tag'/)
  r = await sb.run('vm/set', ['--vmid', '1003'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /nothing to set/)
  assert.deepEqual(sb.mutations(mark), [])
})

test('resize grows; shrinking is refused with both sizes and sends nothing', async () => {
  let r = await sb.run('vm/resize', ['--vmid', '1003', '--size', '+2G'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /grown from 8G to 10G/)
  assert.match(String(vmState(sb.sim, 1003)!.config.scsi0), /size=10G/)
  const mark = sb.mark()
  r = await sb.run('vm/resize', ['--vmid', '1003', '--size', '4G'])
  assert.equal(r.code, 7)
  assert.match(r.stderr, /shrinking disks is not supported: scsi0 of VM 1003 is 10G, asked for 4G/)
  r = await sb.run('vm/resize', ['--vmid', '1003', '--size', '10G'])
  assert.equal(r.code, 0)
  assert.match(r.stdout, /already 10G/)
  assert.deepEqual(sb.mutations(mark), [])
})

test('a stale lock stops at once with the exact remedy; a transient one is waited for', async () => {
  sb.sim.control.setLock(1003, 'snapshot-delete')
  let mark = sb.mark()
  let r = await sb.run('vm/start', ['--vmid', '1003'])
  assert.equal(r.code, 6)
  assert.match(r.stderr, /locked \(snapshot-delete\)/)
  assert.match(r.stderr, /qm unlock 1003/)
  assert.deepEqual(sb.mutations(mark), [])
  sb.sim.control.setLock(1003, 'backup')
  mark = sb.mark()
  const run = sb.run('vm/start', ['--vmid', '1003'])
  // the backup "ends" a little after the command has seen the lock
  await sb.seen((q) => q.path === '/nodes/pve2/qemu/1003/status/current', mark)
  setTimeout(() => sb.sim.control.setLock(1003, null), 700)
  r = await run
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /locked \(backup\); waiting/)
  assert.equal(vmState(sb.sim, 1003)?.status, 'running')
})

test("PVE's hidden config lock timing out is retried, not shown as a failure", async () => {
  await sb.run('vm/stop', ['--vmid', '1003'])
  // the start task fails twice the way PVE's does when another writer holds the config lock
  sb.sim.control.addFault({ kind: 'task-fail', type: 'qmstart', vmid: 1003, count: 2, message: "can't lock file '/var/lock/qemu-server/lock-1003.conf' - got timeout" })
  const r = await sb.run('vm/start', ['--vmid', '1003'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /the configuration of VM 1003 is busy \(another task holds its lock\); nothing changed, retrying/)
  assert.doesNotMatch(r.stdout + r.stderr, /can't lock file|got timeout/, "PVE's raw lock text never reaches the user")
  assert.equal(vmState(sb.sim, 1003)?.status, 'running')
})

test('delete refuses templates, the template range, protected and unowned VMs, with 0 changes', async () => {
  const mark = sb.mark()
  for (const [vmid, why] of [['100', /template/], ['1002', /protected/], ['1010', /not created by this tool/]] as const) {
    const r = await sb.run('vm/delete', ['--vmid', vmid, '--yes'])
    assert.equal(r.code, 7, `${vmid}: ${r.stderr}`)
    assert.match(r.stderr, why)
  }
  const r = await sb.run('vm/delete', ['--vmid', '1003'])
  assert.equal(r.code, 7, 'no terminal and no --yes')
  assert.deepEqual(sb.mutations(mark), [])
})

test('delete --dry-run sends nothing; delete stops a running VM, purges and verifies', async () => {
  let mark = sb.mark()
  let r = await sb.run('vm/delete', ['--vmid', '1003', '--dry-run'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /would stop and delete VM 1003/)
  assert.match(r.stderr, /disks: scsi0=local-lvm:vm-1003-disk-\d/)
  assert.deepEqual(sb.mutations(mark), [])
  mark = sb.mark()
  r = await sb.run('vm/delete', ['--vmid', '1003', '--yes'])
  assert.equal(r.code, 0, r.stderr)
  const m = sb.mutations(mark)
  assert.ok(m.some((x) => x.path.endsWith('/status/stop')))
  const del = m.find((x) => x.method === 'DELETE')!
  assert.equal(del.params.purge, '1')
  assert.equal(del.params['destroy-unreferenced-disks'], '1')
  assert.equal(vmState(sb.sim, 1003), undefined)
})

test('delete --force-protected clears protection after the separate confirmation', async () => {
  sb.sim.control.addVm({ vmid: 1500, node: 'pve1', name: 'guarded', tags: 'pm-managed', protection: true, disks: [1] })
  const r = await sb.run('vm/delete', ['--vmid', '1500', '--force-protected', '--yes'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(vmState(sb.sim, 1500), undefined)
})

test('task log prints a finished task and follows a running one', async () => {
  const started = await sb.run('vm/start', ['--vmid', '1001', '--no-wait'])
  const stopped = await sb.run('vm/stop', ['--vmid', '1001', '--no-wait'])
  const upid = stopped.stdout.trim()
  assert.match(upid, /^UPID:/, started.stderr + stopped.stderr)
  const r = await sb.run('task/log', ['--upid', upid, '--follow'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /TASK OK/)
  const bad = await sb.run('task/log', ['--upid', 'nonsense'])
  assert.equal(bad.code, 1)
  await sb.run('vm/start', ['--vmid', '1001'])
})

test('the token never appears in any output', () => {
  const secret = sb.sim.rootToken.secret
  for (const text of sb.output) assert.ok(!text.includes(secret) && !text.includes(encodeURIComponent(secret)))
})
