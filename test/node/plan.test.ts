import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, writeFile, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readPlan, writePlan, type EvacuationPlan } from '../../scripts/lib/node/plan.ts'
import { ConfigError } from '../../scripts/lib/errors.ts'

const plan: EvacuationPlan = {
  kind: 'evacuation-plan',
  version: 1,
  node: 'pve1',
  createdAt: '2026-01-01T00:00:00Z',
  policy: { memReserve: 0.1, cpuFactor: 4, strategy: 'spread' },
  moves: [{ vmid: 100, name: 'web', type: 'qemu', from: 'pve1', to: 'pve2', mode: 'online', withLocalDisks: true, targetStorage: 'local-lvm', memory: 1024, cores: 2, diskBytes: 10 }],
  ha: { maintenance: false, guests: [] },
  blocked: [],
  skipped: [],
}

test('plans round-trip through YAML and JSON files', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'plan-'))
  for (const name of ['p.yaml', 'p.json']) {
    await writePlan(join(dir, name), plan)
    assert.deepEqual(await readPlan(join(dir, name)), plan)
  }
  assert.match(await readFile(join(dir, 'p.yaml'), 'utf8'), /^# Evacuation plan for pve1/)
})

test('a hand-edited plan that targets the evacuated node is refused with file, line and field', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'plan-'))
  const path = join(dir, 'bad.yaml')
  await writePlan(path, plan)
  const text = (await readFile(path, 'utf8')).replace('to: pve2', 'to: pve1')
  await writeFile(path, text)
  await assert.rejects(readPlan(path), (err: unknown) => {
    assert.ok(err instanceof ConfigError)
    const [issue] = err.issues
    assert.equal(issue.path, 'moves.0.to')
    assert.equal(issue.file, path)
    assert.ok(issue.line && issue.line > 5)
    assert.match(issue.message, /node being evacuated/)
    return true
  })
})
