#!/usr/bin/env node
// The seeded fault campaign of cluster create and teardown (test/cluster/campaign.ts), larger than
// the 200 seeds of task test: every seed must converge with 0 orphans and 0 actions on VMs that are
// not the cluster's. Prints a summary; the first failing seed stops the run with its faults.
import { z } from 'zod'
import { runCommand } from '../scripts/lib/cli.ts'
import { info } from '../scripts/lib/output.ts'
import { startSimulator } from '../test/sim/index.ts'
import { runSeed, type SeedOutcome } from '../test/cluster/campaign.ts'

await runCommand({
  name: 'bench:cluster-campaign',
  summary: 'Seeded fault campaign of cluster create and teardown on the simulator',
  options: z.strictObject({
    seeds: z.coerce.number().int().min(1).default(2000).describe('number of seeds'),
    from: z.coerce.number().int().min(1).default(1).describe('first seed'),
    workers: z.coerce.number().int().min(1).max(32).default(8).describe('seeds run side by side (one simulator each)'),
  }),
  async run(o) {
    const outcomes: SeedOutcome[] = []
    const last = o.from + o.seeds - 1
    let next = o.from
    let failed = false
    const started = performance.now()
    const worker = async () => {
      const sim = await startSimulator({ inventory: 'sandbox', timeFactor: 0.0002 })
      try {
        for (let seed = next++; seed <= last && !failed; seed = next++) {
          outcomes.push(await runSeed(seed, { sim }))
          if (outcomes.length % 100 === 0) info(`${outcomes.length}/${o.seeds} seeds`)
        }
      } catch (err) {
        failed = true
        throw err
      } finally {
        await sim.stop()
      }
    }
    await Promise.all(Array.from({ length: o.workers }, worker))
    const fired = outcomes.reduce((n, x) => n + x.faultsFired, 0)
    const resumed = outcomes.filter((x) => x.createRuns + x.teardownRuns > 2).length
    const mutations = outcomes.filter((x) => x.mutation).length
    process.stdout.write(
      `${outcomes.length} seeds (${o.from}..${last}) of 3 CP + 3 workers: all converged and torn down, 0 orphans, 0 actions on VMs not the cluster's\n` +
        `faults fired: ${fired}; seeds needing more than one run: ${resumed}; VMs changed by someone else: ${mutations}; clear errors met and resumed: ${outcomes.reduce((n, x) => n + x.errors.length, 0)}\n` +
        `wall time ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    )
  },
})
