import { test } from 'node:test'
import assert from 'node:assert/strict'
import { planEvacuation, memLimit, DEFAULT_POLICY, type Guest, type NodeLoad, type MigrateCheck, type PlanInput } from '../../scripts/lib/node/placement.ts'
import { PlanSchema } from '../../scripts/lib/node/plan.ts'

const GiB = 1024 ** 3
const node = (name: string, memGiB: number, usedGiB: number, cpus = 16, online = true): NodeLoad => ({ name, online, maxmem: memGiB * GiB, mem: usedGiB * GiB, maxcpu: cpus })
const vm = (vmid: number, nodeName: string, memGiB: number, extra: Partial<Guest> = {}): Guest => ({
  vmid,
  name: `vm${vmid}`,
  type: 'qemu',
  node: nodeName,
  status: 'running',
  maxmem: memGiB * GiB,
  maxcpu: 2,
  template: false,
  ...extra,
})
const input = (over: Partial<PlanInput>): PlanInput => ({
  node: 'pve1',
  nodes: [node('pve1', 64, 40), node('pve2', 64, 8), node('pve3', 64, 8)],
  guests: [],
  checks: new Map(),
  storages: {},
  policy: DEFAULT_POLICY,
  ...over,
})

test('running guests go online, stopped ones offline, never to the evacuated node', () => {
  const plan = planEvacuation(input({ guests: [vm(100, 'pve1', 8), vm(101, 'pve1', 4, { status: 'stopped' }), vm(102, 'pve2', 4)] }))
  assert.deepEqual(plan.moves.map((m) => [m.vmid, m.mode]).sort(), [[100, 'online'], [101, 'offline']])
  for (const m of plan.moves) {
    assert.notEqual(m.to, 'pve1')
    assert.equal(m.from, 'pve1')
  }
  assert.equal(plan.blocked.length, 0)
  PlanSchema.parse(plan) // the plan file format accepts what the planner produces
})

test('spreads guests over the targets instead of piling them onto the first one', () => {
  const guests = [1, 2, 3, 4].map((i) => vm(100 + i, 'pve1', 8))
  const spread = planEvacuation(input({ guests }))
  const counts = (p: typeof spread) => p.moves.reduce<Record<string, number>>((c, m) => ({ ...c, [m.to]: (c[m.to] ?? 0) + 1 }), {})
  assert.deepEqual(counts(spread), { pve2: 2, pve3: 2 })
  const firstFit = planEvacuation(input({ guests, policy: { ...DEFAULT_POLICY, strategy: 'first-fit' } }))
  assert.deepEqual(counts(firstFit), { pve2: 4 })
})

test('respects the memory reserve and blocks what fits nowhere, with the reason', () => {
  const plan = planEvacuation(input({ nodes: [node('pve1', 64, 40), node('pve2', 16, 8)], guests: [vm(100, 'pve1', 6), vm(101, 'pve1', 2)] }))
  // pve2: limit 14.4 GiB, 8 used → 6.4 left: the 6 GiB guest fits, the 2 GiB one no longer does
  assert.deepEqual(plan.moves.map((m) => m.vmid), [100])
  assert.equal(plan.blocked[0].vmid, 101)
  assert.match(plan.blocked[0].reason, /pve2: not enough memory/)
})

test('HA-managed guests are left to HA node maintenance; templates and locked guests are not moved', () => {
  const plan = planEvacuation(
    input({ guests: [vm(100, 'pve1', 2, { hastate: 'started' }), vm(101, 'pve1', 2, { hastate: 'ignored' }), vm(102, 'pve1', 2, { template: true, status: 'stopped' }), vm(103, 'pve1', 2, { lock: 'backup' })] }),
  )
  assert.deepEqual(plan.ha.guests.map((g) => g.vmid), [100])
  assert.equal(plan.ha.maintenance, true)
  assert.deepEqual(plan.moves.map((m) => m.vmid), [101])
  assert.deepEqual(plan.skipped.map((s) => s.vmid), [102])
  assert.match(plan.blocked.find((b) => b.vmid === 103)!.reason, /locked \(backup\)/)
})

test('local disks: with-local-disks for live moves, a target storage where the source storage is missing', () => {
  const check: MigrateCheck = {
    allowedNodes: ['pve3'],
    notAllowed: { pve2: { unavailable_storages: ['fast-local'] } },
    localDisks: [{ volid: 'fast-local:vm-100-disk-0', size: 10 * GiB }],
    localResources: [],
  }
  const storages = { pve2: [{ storage: 'local-lvm', content: ['images', 'rootdir'], shared: false, active: true, avail: 100 * GiB }] }
  const plan = planEvacuation(input({ nodes: [node('pve1', 64, 40), node('pve2', 64, 0), node('pve3', 64, 30)], guests: [vm(100, 'pve1', 4)], checks: new Map([[100, check]]), storages }))
  const [m] = plan.moves
  assert.equal(m.to, 'pve2') // more room, reachable thanks to the storage mapping
  assert.equal(m.withLocalDisks, true)
  assert.equal(m.targetStorage, 'local-lvm')
  assert.equal(m.diskBytes, 10 * GiB)
})

test('local ISOs and local devices block the guest', () => {
  const checks = new Map<number, MigrateCheck>([
    [100, { notAllowed: {}, localDisks: [{ volid: 'local:iso/debian.iso', cdrom: true }], localResources: [] }],
    [101, { notAllowed: {}, localDisks: [], localResources: ['hostpci0'] }],
  ])
  const plan = planEvacuation(input({ guests: [vm(100, 'pve1', 1), vm(101, 'pve1', 1)], checks }))
  assert.equal(plan.moves.length, 0)
  assert.match(plan.blocked.find((b) => b.vmid === 100)!.reason, /local ISO local:iso\/debian.iso/)
  assert.match(plan.blocked.find((b) => b.vmid === 101)!.reason, /hostpci0/)
})

test('random inventories: every plan fits capacity and never targets the evacuated or an offline node', () => {
  let seed = 42
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  for (let round = 0; round < 200; round++) {
    const nodes = Array.from({ length: 2 + Math.floor(rnd() * 5) }, (_, i) => node(`pve${i + 1}`, 32 + Math.floor(rnd() * 96), Math.floor(rnd() * 32), 4 + Math.floor(rnd() * 28), i === 0 || rnd() > 0.15))
    const guests: Guest[] = []
    let id = 100
    for (const n of nodes) for (let k = Math.floor(rnd() * 15); k > 0; k--) guests.push(vm(id++, n.name, 1 + Math.floor(rnd() * 12), { status: rnd() > 0.3 ? 'running' : 'stopped', maxcpu: 1 + Math.floor(rnd() * 8) }))
    const policy = { ...DEFAULT_POLICY, memReserve: rnd() * 0.3, cpuFactor: 1 + rnd() * 4 }
    const plan = planEvacuation(input({ nodes, guests, policy }))
    const load = new Map(nodes.map((n) => [n.name, { mem: n.mem, vcpus: guests.filter((g) => g.node === n.name && g.status === 'running').reduce((s, g) => s + g.maxcpu, 0) }]))
    for (const m of plan.moves) {
      const target = nodes.find((n) => n.name === m.to)!
      assert.notEqual(m.to, 'pve1')
      assert.ok(target.online, `round ${round}: offline target ${m.to}`)
      if (m.mode === 'online') {
        load.get(m.to)!.mem += m.memory
        load.get(m.to)!.vcpus += m.cores
      }
    }
    for (const n of nodes.slice(1)) {
      const l = load.get(n.name)!
      assert.ok(l.mem <= Math.max(n.mem, memLimit(n, policy)) + 1, `round ${round}: ${n.name} memory over the limit`)
    }
    const local = guests.filter((g) => g.node === 'pve1')
    assert.equal(plan.moves.length + plan.blocked.length, local.length, 'every guest is planned or blocked')
  }
})
