// pve:vm:clone against the simulator: allocation, placement across nodes, refusals, and 20
// clones started at once (separate processes) getting 20 distinct VMIDs without a lock error.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { sandbox, vmState, type Sandbox } from './sim-helpers.ts'

let sb: Sandbox
before(async () => {
  sb = await sandbox()
})
after(() => sb.stop())

const json = (s: string) => JSON.parse(s) as { vmid: number; name: string; node: string; strategy: string; template: number }

test('clone allocates the first free VMID of vmid_ranges.vms, adds the ownership tag, drops the template tag', async () => {
  const r = await sb.run('vm/clone', ['--template', '100', '--name', 'app-1', '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  const res = json(r.stdout)
  assert.equal(res.vmid, 1004)
  assert.equal(res.node, 'pve1')
  const vm = vmState(sb.sim, 1004)!
  assert.equal(vm.config.name, 'app-1')
  assert.deepEqual(String(vm.config.tags).split(';').sort(), ['pm-managed'])
  assert.equal(vm.config.lock, undefined)
})

test('clone by template name onto another node: local disks mean full clone, then migrate', async () => {
  const r = await sb.run('vm/clone', ['--template', 'talos-v1.11.5', '--name', 'cp-1', '--target', 'pve3', '--tag', 'talos-staging', '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  const res = json(r.stdout)
  assert.equal(res.strategy, 'clone-then-migrate')
  assert.equal(res.node, 'pve3')
  assert.equal(vmState(sb.sim, res.vmid)?.node, 'pve3')
  assert.deepEqual(String(vmState(sb.sim, res.vmid)!.config.tags).split(';').sort(), ['pm-managed', 'talos', 'talos-staging'])
  const clone = sb.sim.requests.find((q) => q.method === 'POST' && q.path.endsWith('/qemu/101/clone') && q.params.newid === String(res.vmid))!
  assert.equal(clone.params.full, '1')
  assert.equal(clone.params.target, undefined, 'never asks PVE for a cross-node clone of local disks')
})

test("with a copy of the template on the target node, that node's copy is used", async () => {
  sb.sim.control.addVm({ vmid: 102, node: 'pve2', name: 'talos-v1.11.5', template: true, tags: 'template;talos', disks: [10] })
  const r = await sb.run('vm/clone', ['--template', '101', '--name', 'cp-2', '--target', 'pve2', '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  const res = json(r.stdout)
  assert.equal(res.strategy, 'node-copy')
  assert.equal(res.template, 102)
  assert.equal(vmState(sb.sim, res.vmid)?.node, 'pve2')
})

test('refusals: an existing VMID, a VMID in the template range, a VM that is not a template', async () => {
  const mark = sb.mark()
  let r = await sb.run('vm/clone', ['--template', '100', '--name', 'x', '--vmid', '1000'])
  assert.equal(r.code, 6)
  assert.match(r.stderr, /VM 1000 already exists: refusing to clone into it/)
  r = await sb.run('vm/clone', ['--template', '100', '--name', 'x', '--vmid', '150'])
  assert.equal(r.code, 7)
  r = await sb.run('vm/clone', ['--template', '1000', '--name', 'x'])
  assert.equal(r.code, 7)
  assert.match(r.stderr, /not a template/)
  r = await sb.run('vm/clone', ['--template', '100', '--name', 'bad_name'])
  assert.equal(r.code, 1)
  assert.deepEqual(sb.mutations(mark), [])
})

test('20 clones started at once get 20 distinct VMIDs and no lock error reaches the user', async () => {
  const before = new Set(sb.sim.control.state().vms.map((v) => v.vmid))
  // A barrier instead of hoping that 20 processes overlap on a loaded machine: the template carries
  // a transient lock (a backup of it is running), so every clone reads the template's config and
  // then waits for the lock. Once all 20 have read it, the lock goes away and they all go at once.
  sb.sim.control.setLock(100, 'backup')
  const mark = sb.mark()
  let finished = false
  const runs = Promise.all(Array.from({ length: 20 }, (_, i) => sb.run('vm/clone', ['--template', '100', '--name', `par-${i}`, '--full', '--output', 'json'])))
  void runs.then(() => (finished = true))
  const templateConfigReads = () => sb.sim.requests.slice(mark).filter((q) => q.method === 'GET' && q.path === '/nodes/pve1/qemu/100/config').length
  // (finished: a clone that failed before reaching the lock must fail the test, not hang it)
  await until(() => templateConfigReads() >= 20 || finished)
  assert.equal(finished, false, 'every clone waits for the template lock')
  assert.deepEqual(sb.mutations(mark), [], 'no clone started while the template was locked')
  sb.sim.control.unlock(100)
  const results = await runs
  for (const r of results) {
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /VM 100 is locked \(backup\); waiting/)
    assert.doesNotMatch(r.stdout + r.stderr, /can't lock file|got timeout|got lock request timeout|VM is locked/)
  }
  const ids = results.map((r) => json(r.stdout).vmid)
  assert.equal(new Set(ids).size, 20)
  const clonePosts = sb.sim.requests.slice(mark).filter((q) => q.method === 'POST' && q.path === '/nodes/pve1/qemu/100/clone')
  assert.ok(clonePosts.length >= 20)
  for (const id of ids) {
    assert.ok(!before.has(id) && id >= 1000 && id <= 9999, `fresh id ${id}`)
    const vm = vmState(sb.sim, id)!
    assert.equal(vm.config.lock, undefined)
    assert.match(String(vm.config.name), /^par-\d+$/)
    assert.equal(ids.filter((x) => x === id).length, 1)
  }
  assert.deepEqual(results.map((r) => json(r.stdout).name).sort(), Array.from({ length: 20 }, (_, i) => `par-${i}`).sort())
})

/** Polls a condition of the simulator's request log (synchronisation on events, not on time). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 20))
}
