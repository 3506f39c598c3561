// task bench:sim: the simulator's own speed, so benchmarks can tell when it would be the
// bottleneck. A 32-node, 10,000-VM inventory: /cluster/resources (every VM, the same filtered
// by type, as the tool lists them) against the cheapest authenticated request (/version), and
// a single VM's config. Client and server share one process, one keep-alive connection.
import { readFileSync } from 'node:fs'
import { Agent, fetch } from 'undici'
import { z } from 'zod'
import { runCommand } from '../scripts/lib/cli.ts'
import { info } from '../scripts/lib/output.ts'
import { generatedInventory, startSimulator } from '../test/sim/index.ts'

interface Timing { firstByte: number; total: number; bytes: number }

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))]

await runCommand({
  name: 'bench:sim',
  summary: 'Benchmark the simulator itself: /cluster/resources on 32 nodes and 10,000 VMs vs. /version and a config read',
  options: z.strictObject({
    nodes: z.coerce.number().int().min(1).default(32).describe('simulated nodes'),
    vms: z.coerce.number().int().min(1).default(10_000).describe('VMs in the inventory'),
    runs: z.coerce.number().int().min(3).default(30).describe('measured requests per case'),
  }),
  async run(opts) {
    const loadStarted = performance.now()
    const sim = await startSimulator({ inventory: generatedInventory(opts.nodes, opts.vms) })
    const loadMs = performance.now() - loadStarted
    const agent = new Agent({ connect: { ca: readFileSync(sim.caFile) }, connections: 1 })
    const auth = `PVEAPIToken=${sim.rootToken.id}=${sim.rootToken.secret}`
    const base = `${sim.nodes[0].url}/api2/json`
    const call = async (method: string, path: string): Promise<Timing> => {
      const started = performance.now()
      const res = await fetch(`${base}${path}`, { method, headers: { Authorization: auth }, dispatcher: agent })
      const firstByte = performance.now() - started
      const body = await res.arrayBuffer()
      if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${res.statusText}`)
      return { firstByte, total: performance.now() - started, bytes: body.byteLength }
    }
    const firstVm = sim.context.state.vms.values().next().value!
    const cases: Array<[string, () => Promise<Timing>]> = [
      ['GET /version', () => call('GET', '/version')],
      ['GET /cluster/resources', () => call('GET', '/cluster/resources')],
      ['GET /cluster/resources?type=vm', () => call('GET', '/cluster/resources?type=vm')],
      [`GET /nodes/${firstVm.node}/qemu/${firstVm.vmid}/config`, () => call('GET', `/nodes/${firstVm.node}/qemu/${firstVm.vmid}/config`)],
      ['GET /cluster/nextid', () => call('GET', '/cluster/nextid')],
    ]
    try {
      info(`${opts.vms} VMs on ${opts.nodes} simulated nodes (inventory loaded and listeners up in ${loadMs.toFixed(0)} ms); ${opts.runs} runs per case, alternating...`)
      for (const [, run] of cases) await run() // warm-up: JIT, TLS session
      const samples = cases.map(() => [] as Timing[])
      for (let r = 0; r < opts.runs; r++) for (let k = 0; k < cases.length; k++) {
        const i = (r + k) % cases.length
        samples[i].push(await cases[i][1]())
      }
      const width = Math.max(...cases.map(([n]) => n.length))
      const lines = [`${'request'.padEnd(width)}  first byte median  p95 ms  total median  p95 ms     bytes`]
      cases.forEach(([name], i) => {
        const s = samples[i]
        lines.push(`${name.padEnd(width)}  ${median(s.map((x) => x.firstByte)).toFixed(1).padStart(17)}  ${p95(s.map((x) => x.firstByte)).toFixed(1).padStart(6)}  ${median(s.map((x) => x.total)).toFixed(1).padStart(12)}  ${p95(s.map((x) => x.total)).toFixed(1).padStart(6)}  ${String(s[0].bytes).padStart(8)}`)
      })
      const all = median(samples[1].map((x) => x.total))
      const version = median(samples[0].map((x) => x.total))
      lines.push('', `/cluster/resources (${opts.vms} VMs) total median ${all.toFixed(1)} ms: ${all < 200 ? 'under' : 'OVER'} the 200 ms target; ${(all / version).toFixed(1)}x a /version round trip`)
      lines.push(`simulator overhead per request (GET /version round trip, TLS keep-alive): ${version.toFixed(2)} ms median`)
      process.stdout.write(lines.join('\n') + '\n')
    } finally {
      await agent.close()
      await sim.stop()
    }
  },
})
