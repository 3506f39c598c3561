import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { VmidAllocator, isAlreadyExists } from '../../scripts/lib/vm/vmid.ts'
import { ApiError } from '../../scripts/lib/errors.ts'
import type { PveApi } from '../../scripts/lib/vm/api.ts'

function fakeApi(existing: number[], opts: { racedIds?: number[] } = {}) {
  const calls: string[] = []
  const raced = new Set(opts.racedIds)
  const api: PveApi = {
    async get<T>(path: string, params?: Record<string, unknown>) {
      calls.push(`${path}${params?.vmid ? `?vmid=${params.vmid}` : ''}`)
      if (path === '/cluster/resources') return existing.map((vmid) => ({ vmid, node: 'pve1', template: vmid < 1000 ? 1 : 0 })) as T
      if (path === '/cluster/nextid') {
        const id = Number(params?.vmid)
        if (existing.includes(id) || raced.has(id)) {
          throw new ApiError({ message: 'Parameter verification failed.', status: 400, method: 'GET', path, errors: { vmid: `VM ${id} already exists` } })
        }
        return String(id) as T
      }
      throw new Error(`unexpected ${path}`)
    },
    post: async () => { throw new Error('no') },
    put: async () => { throw new Error('no') },
    delete: async () => { throw new Error('no') },
  }
  return { api, calls }
}

const claimDir = () => mkdtempSync(join(tmpdir(), 'vmid-test-'))

test('allocates the lowest free id, skipping existing VMs and ids another host just took', async () => {
  const dir = claimDir()
  try {
    const { api } = fakeApi([1000, 1001, 1003], { racedIds: [1002] })
    const a = new VmidAllocator(api, { range: { min: 1000, max: 1010 }, claimDir: dir })
    assert.equal(await a.allocate(), 1004)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('concurrent allocations in one process get distinct ids', async () => {
  const dir = claimDir()
  try {
    const { api } = fakeApi([1000])
    const a = new VmidAllocator(api, { range: { min: 1000, max: 1100 }, claimDir: dir })
    const ids = await Promise.all([...Array(20)].map(() => a.allocate()))
    assert.equal(new Set(ids).size, 20)
    assert.ok(ids.every((i) => i > 1000 && i <= 1020))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('two allocators (two processes) sharing the claim directory never hand out the same id', async () => {
  const dir = claimDir()
  try {
    const a = new VmidAllocator(fakeApi([]).api, { range: { min: 2000, max: 2100 }, claimDir: dir })
    const b = new VmidAllocator(fakeApi([]).api, { range: { min: 2000, max: 2100 }, claimDir: dir })
    const ids = await Promise.all([...Array(10)].flatMap(() => [a.allocate(), b.allocate()]))
    assert.equal(new Set(ids).size, 20)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('claims of dead processes are taken over; committed ids are never reused', async () => {
  const dir = claimDir()
  try {
    writeFileSync(join(dir, '3000'), JSON.stringify({ pid: 2 ** 22 + 12345, at: Date.now() }))
    const a = new VmidAllocator(fakeApi([]).api, { range: { min: 3000, max: 3005 }, claimDir: dir })
    const first = await a.allocate()
    assert.equal(first, 3000)
    a.commit(first)
    assert.equal(await a.allocate(), 3001)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('never a template id or a forbidden range; exhaustion is a clear conflict', async () => {
  const dir = claimDir()
  try {
    const { api } = fakeApi([150, 900])
    const a = new VmidAllocator(api, { range: { min: 100, max: 1001 }, forbidden: [{ min: 100, max: 999 }], claimDir: dir })
    assert.equal(await a.allocate(), 1000)
    assert.equal(await a.allocate(), 1001)
    await assert.rejects(a.allocate(), /no free VMID left in 100-1001/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('PVE "already exists" texts are recognised', () => {
  assert.ok(isAlreadyExists(new Error('unable to create VM 1005: config file already exists')))
  assert.ok(isAlreadyExists(new Error("unable to create VM 100 - VM 100 already exists on node 'pve'")))
  assert.ok(!isAlreadyExists(new Error("can't lock file '/var/lock/qemu-server/lock-1.conf' - got timeout")))
})
