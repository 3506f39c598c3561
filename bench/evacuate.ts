#!/usr/bin/env node
// Benchmark: evacuating a node that holds 40 VMs, on the simulator with PVE's durations scaled by
// --time-factor. Same run, same inventory (the guests are returned between runs):
//   - ours: spread placement, bounded parallelism (limits.per_node and 8)
//   - pvecontrol's way: first-fit placement, one migration at a time
// against the simulator's lower bound for the same migrations (critical path under its rules), and
// that bound at each run's parallelism (no schedule of N workers beats total work / N).
// The tool watches tasks on PVE's real time scale (one active-task list read per node every 100 ms
// or more): a small time factor makes every migration short next to that and inflates every ratio.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import { runCommand } from '../scripts/lib/cli.ts'
import { loadClusterConfig } from '../scripts/lib/config.ts'
import { createClient } from '../scripts/lib/context.ts'
import { applyMoves } from '../scripts/lib/node/apply.ts'
import { gatherPlanInput } from '../scripts/lib/node/inventory.ts'
import { locateGuest, migrateGuest } from '../scripts/lib/node/migrate.ts'
import { DEFAULT_POLICY, planEvacuation, type PlacementPolicy } from '../scripts/lib/node/placement.ts'
import { newJournal, PlanSchema, type Move } from '../scripts/lib/node/plan.ts'
import { renderTable } from '../scripts/lib/output.ts'
import { waitForTask } from '../scripts/lib/pve/tasks.ts'
import { ActiveTaskWatch } from '../scripts/lib/vm/task-watch.ts'
import { registerSecret } from '../scripts/lib/secrets.ts'
import { startSimulator } from '../test/sim/index.ts'

await runCommand({
  name: 'bench:evacuate',
  summary: 'Benchmark the evacuation of a node with 40 VMs: makespan vs. the simulator lower bound and vs. serial first-fit (pvecontrol)',
  options: z.strictObject({
    vms: z.coerce.number().int().min(2).default(40).describe('VMs on the evacuated node'),
    timeFactor: z.coerce.number().positive().default(0.5).describe('simulated seconds -> wall clock'),
  }),
  async run(o) {
    const dir = mkdtempSync(join(tmpdir(), 'pm-bench-'))

    const sim = await startSimulator({
      timeFactor: o.timeFactor,
      inventory: {
        nodes: 4,
        vms: Array.from({ length: o.vms }, (_, i) => ({
          vmid: 5000 + i,
          node: 'pve1',
          name: `load-${i}`,
          running: i % 5 !== 4, // 80 % running: live migration, the rest offline
          memory: [2048, 4096, 8192, 1024][i % 4],
          cores: 2,
          disks: [[8, 16, 32][i % 3]],
          storage: 'ceph', // shared storage: only memory moves (disks stay on the shared pool)
        })),
      },
    })
    registerSecret(sim.rootToken.secret)
    process.env.PVE_TOKEN_ID = sim.rootToken.id
    process.env.PVE_TOKEN_SECRET = sim.rootToken.secret
    const config = await loadClusterConfig(sim.writeClusterConfig(join(dir, 'cluster-config.yaml')))
    const client = createClient(config)

    async function run(policy: PlacementPolicy, parallel: number) {
      const plan = PlanSchema.parse(planEvacuation(await gatherPlanInput(client, 'pve1', policy, config.defaults.storage)))
      // as pve:node:apply does it: one ActiveTaskWatch for the migrations of a run
      const runner = (memReserve: number, wait = new ActiveTaskWatch(client, (upid, w) => waitForTask(client, upid, { timeoutMs: w?.timeoutMs })).wait) => ({
        locate: (vmid: number) => locateGuest(client, vmid),
        migrate: async (m: Move, onUpid: (u: string) => void) => {
          const g = await locateGuest(client, m.vmid)
          return (await migrateGuest(client, g!, { target: m.to, online: 'auto', policy: { memReserve }, onUpid, wait })).upid ?? ''
        },
      })
      const started = performance.now()
      const result = await applyMoves(newJournal(plan), plan.moves, { parallel, runner: runner(policy.memReserve), save: async () => {} })
      const seconds = (performance.now() - started) / 1000 / o.timeFactor
      if (result.failed.length) throw new Error(`bench run failed: ${JSON.stringify(result.failed)}`)
      const chains = plan.moves.map((m) => [{ op: 'migrate' as const, vmid: m.vmid, target: m.to, online: m.mode === 'online' }])
      const bound = sim.control.lowerBound(chains)
      // With `parallel` workers no schedule beats max(bound, total work / parallel).
      const work = chains.reduce((sum, c) => sum + sim.control.lowerBound([c]).seconds, 0)
      const targets = new Set(plan.moves.map((m) => m.to)).size
      // back to the start for the next run (the origin held them all before: no reserve, as pve:node:return)
      const back = plan.moves.map((m) => ({ ...m, from: m.to, to: m.from }))
      const ret = await applyMoves(newJournal({ ...plan, moves: back }), back, { parallel: 8, runner: runner(0), save: async () => {} })
      if (ret.failed.length) throw new Error(`return failed: ${JSON.stringify(ret.failed.slice(0, 2))}`)
      return { seconds, bound: bound.seconds, boundAtParallel: Math.max(bound.seconds, work / parallel), moves: plan.moves.length, targets }
    }

    const rows: { name: string; seconds: number; bound: number; boundAtParallel: number; targets: number }[] = []
    const spread = { ...DEFAULT_POLICY, strategy: 'spread' as const }
    const firstFit = { ...DEFAULT_POLICY, strategy: 'first-fit' as const }
    const serial = await run(firstFit, 1)
    rows.push({ name: 'pvecontrol way (first-fit, serial)', ...serial })
    const ours = await run(spread, config.limits.per_node)
    rows.push({ name: `ours (spread, parallel ${config.limits.per_node})`, ...ours })
    const ours8 = await run(spread, 8)
    rows.push({ name: 'ours (spread, parallel 8)', ...ours8 })

    process.stdout.write(`Evacuating pve1 (${o.vms} VMs, ${serial.moves} moved) on the simulator, time factor ${o.timeFactor}\n\n`)
    process.stdout.write(
      renderTable(rows, [
        { header: 'strategy', value: (r) => r.name },
        { header: 'targets used', value: (r) => r.targets, align: 'right' },
        { header: 'makespan (sim s)', value: (r) => r.seconds.toFixed(1), align: 'right' },
        { header: 'lower bound (sim s)', value: (r) => r.bound.toFixed(1), align: 'right' },
        { header: 'makespan / bound', value: (r) => (r.seconds / r.bound).toFixed(2), align: 'right' },
        { header: 'bound at its parallelism', value: (r) => r.boundAtParallel.toFixed(1), align: 'right' },
        { header: 'makespan / that', value: (r) => (r.seconds / r.boundAtParallel).toFixed(2), align: 'right' },
        { header: 'speed-up vs serial', value: (r) => (serial.seconds / r.seconds).toFixed(2), align: 'right' },
      ]) + '\n',
    )
    const hw = sim.control.highWater()
    process.stdout.write(`\nsimulator concurrency high-water marks: ${JSON.stringify(hw)}\n`)
    await client.close()
    await sim.stop()
    rmSync(dir, { recursive: true, force: true })
  },
})
