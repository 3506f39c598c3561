import { test } from 'node:test'
import assert from 'node:assert/strict'
import { applyMoves, type MoveRunner } from '../../scripts/lib/node/apply.ts'
import { newJournal, planReturn, type Journal, type Location, type Move, type Plan } from '../../scripts/lib/node/plan.ts'

const move = (vmid: number, to: string, from = 'pve1'): Move => ({ vmid, name: `vm${vmid}`, type: 'qemu', from, to, mode: 'online', withLocalDisks: false, memory: 1, cores: 1, diskBytes: 0 })
const plan = (moves: Move[]): Plan => ({
  kind: 'evacuation-plan',
  version: 1,
  node: 'pve1',
  createdAt: '2026-01-01T00:00:00Z',
  policy: { memReserve: 0.1, cpuFactor: 4, strategy: 'spread' },
  moves,
  ha: { maintenance: false, guests: [] },
  blocked: [],
  skipped: [],
})

/** A fake cluster: migrations take a few ms; records the highest concurrency seen. */
function fakeCluster(where: Map<number, string>, failOn = new Set<number>()) {
  let running = 0
  const stats = { peak: 0, migrations: [] as number[] }
  const runner: MoveRunner = {
    async locate(vmid) {
      const node = where.get(vmid)
      return node ? ({ node, status: 'running' } satisfies Location) : undefined
    },
    async migrate(m, onUpid) {
      running++
      stats.peak = Math.max(stats.peak, running)
      stats.migrations.push(m.vmid)
      onUpid(`UPID:${m.from}:1:1:1:qmigrate:${m.vmid}:t@pve!x:`)
      await new Promise((r) => setTimeout(r, 5 + (m.vmid % 3) * 3))
      running--
      if (failOn.has(m.vmid)) throw new Error(`migration of ${m.vmid} aborted`)
      where.set(m.vmid, m.to)
      return 'UPID'
    },
  }
  return { runner, stats }
}

test('runs at most N migrations at once and moves everything', async () => {
  const moves = Array.from({ length: 12 }, (_, i) => move(100 + i, i % 2 ? 'pve2' : 'pve3'))
  const where = new Map(moves.map((m) => [m.vmid, 'pve1']))
  const { runner, stats } = fakeCluster(where)
  const journal = newJournal(plan(moves))
  const saved: string[] = []
  const r = await applyMoves(journal, moves, { parallel: 3, runner, save: async (j) => void saved.push(JSON.stringify(j)) })
  assert.equal(r.done.length, 12)
  assert.equal(stats.peak, 3)
  for (const m of moves) assert.equal(where.get(m.vmid), m.to)
  assert.ok(Object.values(journal.steps).every((s) => s.status === 'done'))
  assert.ok(saved.length >= 12)
})

test('stops at the first failure, then a re-run resumes without repeating finished moves', async () => {
  const moves = Array.from({ length: 10 }, (_, i) => move(100 + i, 'pve2'))
  const where = new Map(moves.map((m) => [m.vmid, 'pve1']))
  const failing = fakeCluster(where, new Set([102]))
  const journal = newJournal(plan(moves))
  const first = await applyMoves(journal, moves, { parallel: 2, runner: failing.runner, save: async () => {} })
  assert.deepEqual(first.failed.map((f) => f.vmid), [102])
  assert.ok(first.notStarted.length > 0, 'no new migration starts after a failure')
  assert.equal(journal.steps['102'].status, 'failed')
  assert.match(journal.steps['102'].error!, /aborted/)

  const healthy = fakeCluster(where)
  const second = await applyMoves(journal, moves, { parallel: 2, runner: healthy.runner, save: async () => {} })
  assert.equal(second.failed.length, 0)
  const movedBefore = new Set(first.done)
  assert.ok(healthy.stats.migrations.every((id) => !movedBefore.has(id)), 'finished moves are not migrated again')
  for (const m of moves) assert.equal(where.get(m.vmid), 'pve2')
})

test('a guest already at its target (crash after the migration) is marked done without migrating', async () => {
  const moves = [move(100, 'pve2')]
  const where = new Map([[100, 'pve2']])
  const { runner, stats } = fakeCluster(where)
  const journal = newJournal(plan(moves))
  journal.steps['100'] = { status: 'running' }
  const r = await applyMoves(journal, moves, { parallel: 1, runner, save: async () => {} })
  assert.deepEqual(r.done, [100])
  assert.equal(stats.migrations.length, 0)
})

test('a guest moved elsewhere by someone else fails instead of being migrated', async () => {
  const moves = [move(100, 'pve2')]
  const { runner } = fakeCluster(new Map([[100, 'pve3']]))
  const r = await applyMoves(newJournal(plan(moves)), moves, { parallel: 1, runner, save: async () => {} })
  assert.match(r.failed[0].error, /on pve3, expected pve1/)
})

test('return plan reverses applied moves only, for guests still where the evacuation put them', () => {
  const moves = [move(100, 'pve2'), move(101, 'pve3'), move(102, 'pve2'), move(103, 'pve2')]
  const journal: Journal = newJournal(plan(moves))
  for (const id of ['100', '101', '102']) journal.steps[id] = { status: 'done' }
  const at: Record<number, Location> = { 100: { node: 'pve2', status: 'running' }, 101: { node: 'pve1', status: 'running' }, 102: { node: 'pve3', status: 'stopped' } }
  const r = planReturn(journal, (id) => at[id])
  assert.deepEqual(r.moves.map((m) => [m.vmid, m.from, m.to, m.mode]), [[100, 'pve2', 'pve1', 'online']])
  assert.equal(r.notes.length, 3)
  assert.ok(r.notes.some((n) => /102: now on pve3/.test(n)))
})
