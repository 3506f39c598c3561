// The seeded fault campaign in the normal test run (a larger one: task bench:cluster-campaign).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startSimulator } from '../helpers/sim.ts'
import { runSeed, type SeedOutcome } from './campaign.ts'

const SEEDS = Number(process.env.PM_CAMPAIGN_SEEDS ?? 200)

test(`fault campaign: ${SEEDS} seeds of create and teardown under faults converge with 0 orphans and 0 actions on VMs that are not ours`, async () => {
  const outcomes: SeedOutcome[] = []
  let next = 1
  let failed = false
  // Seeds share a simulator per worker (each with its own VMIDs); a seed mostly waits for tasks, so 8 workers.
  const worker = async () => {
    const sim = await startSimulator({ inventory: 'sandbox', timeFactor: 0.0002 })
    try {
      // 3 control planes + 1 worker keep a seed short; the kill tests cover the full 6-VM run.
      for (let seed = next++; seed <= SEEDS && !failed; seed = next++) outcomes.push(await runSeed(seed, { sim, cps: 3, workers: 1 }))
    } catch (err) {
      failed = true // the first failing seed is the report; the other workers stop
      throw err
    } finally {
      await sim.stop()
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
  assert.equal(outcomes.length, SEEDS)
  // The campaign is only worth something if the faults actually hit the runs.
  const hit = outcomes.filter((o) => o.faultsFired > 0).length
  assert.ok(hit >= SEEDS / 2, `faults fired in only ${hit} of ${SEEDS} seeds`)
  assert.ok(outcomes.some((o) => o.errors.length > 0), 'some runs must have failed and been resumed')
  assert.ok(outcomes.some((o) => o.mutation?.action === 'replace'), 'the campaign includes a foreign VM at one of the VMIDs')
})
