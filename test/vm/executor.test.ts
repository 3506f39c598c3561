import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runBounded, retryWithBackoff } from '../../scripts/lib/vm/executor.ts'

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('never more than perKey jobs per node, other nodes keep going', async () => {
  const items = [...Array(24)].map((_, i) => ({ id: i, node: i < 16 ? 'pve1' : `pve${2 + (i % 2)}` }))
  const active = new Map<string, number>()
  const high = new Map<string, number>()
  let total = 0
  let highTotal = 0
  const out = await runBounded(items, { perKey: 3, total: 5, keyOf: (i) => i.node }, async (i) => {
    active.set(i.node, (active.get(i.node) ?? 0) + 1)
    total++
    high.set(i.node, Math.max(high.get(i.node) ?? 0, active.get(i.node)!))
    highTotal = Math.max(highTotal, total)
    await tick(2)
    active.set(i.node, active.get(i.node)! - 1)
    total--
    return i.id * 2
  })
  assert.deepEqual(out.map((o) => (o.ok ? o.value : -1)), items.map((i) => i.id * 2))
  assert.equal(high.get('pve1'), 3)
  assert.ok(highTotal <= 5 && highTotal >= 4)
  assert.ok((high.get('pve2') ?? 0) >= 1)
})

test('failures are collected per item; stopOnError skips the rest', async () => {
  const out = await runBounded([1, 2, 3], { perKey: 1, keyOf: () => 'n' }, async (i) => {
    if (i === 2) throw new Error('boom')
    return i
  })
  assert.deepEqual(out.map((o) => o.ok), [true, false, true])
  const stopped = await runBounded([1, 2, 3], { perKey: 1, keyOf: () => 'n', stopOnError: true }, async (i) => {
    if (i === 1) throw new Error('boom')
    return i
  })
  assert.deepEqual(stopped.map((o) => o.ok), [false, false, false])
  assert.match(String((stopped[2] as { error: Error }).error.message), /not started/)
})

test('empty input resolves at once', async () => {
  assert.deepEqual(await runBounded([], { perKey: 1, keyOf: () => 'x' }, async () => 1), [])
})

test('retryWithBackoff retries only what is retryable, with growing delays', async () => {
  const delays: number[] = []
  let calls = 0
  const v = await retryWithBackoff(async () => {
    if (++calls < 4) throw new Error('got timeout')
    return 'ok'
  }, { retryable: (e) => /timeout/.test(String(e)), sleep: async (ms) => void delays.push(ms), initialDelayMs: 100 })
  assert.equal(v, 'ok')
  assert.equal(delays.length, 3)
  assert.ok(delays[2] > delays[0])
  await assert.rejects(retryWithBackoff(async () => { throw new Error('fatal') }, { retryable: () => false }), /fatal/)
  let n = 0
  await assert.rejects(retryWithBackoff(async () => { n++; throw new Error('got timeout') }, { retryable: () => true, attempts: 3, sleep: async () => {} }), /timeout/)
  assert.equal(n, 3)
})
