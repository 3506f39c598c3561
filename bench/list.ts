// task bench:list: listing 2,000 VMs. `task pve:vms` and the script alone vs. the seed's
// `curl | jq` recipe, against the same simulated cluster, side by side in one run; plus a
// script's --help vs. `node -e 0` (the floor of starting Node at all).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import { runCommand } from '../scripts/lib/cli.ts'
import { registerSecret } from '../scripts/lib/secrets.ts'
import { info } from '../scripts/lib/output.ts'
import { generatedInventory, startSimulator } from '../test/sim/index.ts'
import { formatResults, runAlternating, type BenchCase } from './harness.ts'

const ROOT = join(import.meta.dirname, '..')
// The seed's recipe for "list all VMs across the cluster", with its jq filter unchanged.
const JQ_FILTER = '.data[] | {vmid, name, status, node, maxcpu: .maxcpu, maxmem: (.maxmem / 1073741824 | floor | tostring + "G"), template}'

await runCommand({
  name: 'bench:list',
  summary: 'Benchmark listing 2,000 VMs: task pve:vms and the script vs. curl | jq; --help vs. node -e 0',
  options: z.strictObject({
    runs: z.coerce.number().int().min(3).default(15).describe('measured runs per case'),
    vms: z.coerce.number().int().min(1).default(2000).describe('VMs in the simulated cluster'),
  }),
  async run(opts) {
    const sim = await startSimulator({ inventory: generatedInventory(3, opts.vms) })
    const dir = mkdtempSync(join(tmpdir(), 'pm-bench-'))
    try {
      const config = sim.writeClusterConfig(join(dir, 'cluster-config.yaml'))
      const env = { ...process.env, ...sim.env(), PVE_CONFIG: config }
      registerSecret(sim.rootToken.secret)
      // curl gets the token from a 0600 header file, never from its argv
      const header = join(dir, 'auth.header')
      writeFileSync(header, `Authorization: PVEAPIToken=${sim.rootToken.id}=${sim.rootToken.secret}\n`, { mode: 0o600 })
      const curlEnv = { ...process.env, CA: sim.caFile, HDR: header, URL: `${sim.nodes[0].url}/api2/json/cluster/resources?type=vm`, JQ_FILTER }
      const cases: BenchCase[] = [
        { name: 'task pve:vms', command: 'task', args: ['-d', ROOT, '--silent', 'pve:vms'], env },
        { name: 'node scripts/pve/vms.ts', command: process.execPath, args: [join(ROOT, 'scripts/pve/vms.ts')], env: { ...env, NODE_COMPILE_CACHE: undefined } },
        { name: 'curl | jq (seed recipe)', command: 'bash', args: ['-c', 'set -o pipefail; curl -sS --fail --cacert "$CA" -H @"$HDR" "$URL" | jq "$JQ_FILTER"'], env: curlEnv },
        { name: 'vms.ts --help', command: process.execPath, args: [join(ROOT, 'scripts/pve/vms.ts'), '--help'], env: { ...env, NODE_COMPILE_CACHE: undefined } },
        { name: 'node -e 0', command: process.execPath, args: ['-e', '0'], env },
      ]
      info(`${opts.vms} VMs on ${sim.nodes.length} simulated nodes; ${opts.runs} runs per case, alternating...`)
      const results = await runAlternating(cases, opts.runs, 2, (n) => n % 5 === 0 && info(`  ${n}/${opts.runs}`))
      process.stdout.write(
        formatResults(results, [
          ['task pve:vms', 'curl | jq (seed recipe)'],
          ['node scripts/pve/vms.ts', 'curl | jq (seed recipe)'],
          ['task pve:vms', 'node scripts/pve/vms.ts'],
          ['vms.ts --help', 'node -e 0'],
        ]) + '\n',
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
      await sim.stop()
    }
  },
})
