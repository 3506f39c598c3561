// task bench:bulk: bulk start, stop and snapshot of 200 VMs on the simulator with PVE's task
// durations (scaled by --time-factor). Side by side in one run, each contender on a fresh copy of
// the same cluster:
//   - pve:bulk:* (this tool: parallel, at most limits.per_node tasks per node, waits for each);
//   - the seed's loop: curl | jq to list, then one curl POST per VM, fire and forget
//     (makespan measured until the simulator has no task left);
//   - the Ansible community.proxmox modules looping over the VMs (a subset, see --ansible-vms).
// Reported against the lower bound under the same per-node limit:
//   ceil(VMs on the busiest node / per_node) x the task's simulated duration.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import { runCommand } from '../scripts/lib/cli.ts'
import { info } from '../scripts/lib/output.ts'
import { registerSecret } from '../scripts/lib/secrets.ts'
import { startSimulator, type Inventory, type Simulator } from '../test/sim/index.ts'

const ROOT = join(import.meta.dirname, '..')
const VENV_BIN = join(ROOT, '.tools', 'venv', 'bin')
const PHASES = ['start', 'stop', 'snapshot'] as const
type Phase = (typeof PHASES)[number]

// What each contender sends per VM, and the simulated step the simulator's lowerBound() prices.
const SIM_STEP: Record<Phase, 'start' | 'stop' | 'snapshot'> = { start: 'start', stop: 'stop', snapshot: 'snapshot' }

function inventory(nodes: number, vms: number): Inventory {
  return {
    nodes,
    vms: Array.from({ length: vms }, (_, i) => ({ vmid: 2000 + i, node: `pve${(i % nodes) + 1}`, name: `bench-${i}`, tags: 'bench;pm-managed', memory: 2048, cores: 2, disks: [8] })),
  }
}

interface Outcome {
  ms: number
  ok: boolean
  note?: string
}

function runProcess(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; ms: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? 1, ms: performance.now() - started, stderr }))
  })
}

/** Checks the end state every contender must reach; the makespan only counts if it did. */
function reached(sim: Simulator, phase: Phase, vmids: number[], snapname: string): string | undefined {
  const vms = new Map(sim.control.state().vms.map((v) => [v.vmid, v]))
  const bad = vmids.filter((id) => {
    const vm = vms.get(id)!
    if (phase === 'start') return vm.status !== 'running'
    if (phase === 'stop') return vm.status !== 'stopped'
    return !vm.snapshots.some((s) => s.startsWith(snapname))
  })
  return bad.length ? `${bad.length} VMs not ${phase === 'snapshot' ? 'snapshotted' : phase === 'start' ? 'running' : 'stopped'}` : undefined
}

const failedTasks = (sim: Simulator, since: number) => sim.control.state().tasks.slice(since).filter((t) => t.status === 'stopped' && t.exitstatus !== 'OK').length

interface Contender {
  name: string
  vmids: number[]
  /** Runs one phase; resolves when the contender considers itself done. */
  phase(sim: Simulator, phase: Phase, env: NodeJS.ProcessEnv, snapname: string): Promise<void>
}

await runCommand({
  name: 'bench:bulk',
  summary: 'Benchmark bulk start/stop/snapshot of 200 VMs: pve:bulk:* vs. the lower bound, the seed curl loop and Ansible',
  options: z.strictObject({
    vms: z.coerce.number().int().min(3).default(200).describe('VMs in the simulated cluster'),
    nodes: z.coerce.number().int().min(1).default(3).describe('simulated nodes'),
    perNode: z.coerce.number().int().min(1).default(4).describe('limits.per_node for the tool (and the bound)'),
    // 1: PVE's durations as the simulator models them. A smaller factor shrinks the tasks but not
    // the tool's fixed costs (process start, request round trips), so every ratio to the bound grows.
    timeFactor: z.coerce.number().positive().default(1).describe('simulated seconds -> wall clock'),
    ansibleVms: z.coerce.number().int().min(0).default(20).describe('VMs the Ansible loop runs on (its per-VM rate is scaled to --vms); 0 skips it'),
  }),
  async run(o) {
    const header = (dir: string, sim: Simulator) => {
      const file = join(dir, 'auth.header')
      writeFileSync(file, `Authorization: PVEAPIToken=${sim.rootToken.id}=${sim.rootToken.secret}\n`, { mode: 0o600 })
      return file
    }
    const all = Array.from({ length: o.vms }, (_, i) => 2000 + i)
    const nodeOf = (vmid: number) => `pve${((vmid - 2000) % o.nodes) + 1}`

    const tool: Contender = {
      name: 'pve:bulk:* (this tool)',
      vmids: all,
      async phase(_sim, phase, env) {
        const args = phase === 'snapshot' ? ['--label', 'bench'] : []
        const r = await runProcess(process.execPath, [join(ROOT, 'scripts/bulk', `${phase}.ts`), '--selector', '@tag-bench', '--all', '--yes', ...args], env)
        if (r.code !== 0) throw new Error(`pve:bulk:${phase} exited ${r.code}: ${r.stderr.slice(-400)}`)
      },
    }
    const curl: Contender = {
      name: 'seed curl loop (sequential)',
      vmids: all,
      async phase(sim, phase, env, snapname) {
        // The seed's recipe: list with curl | jq, then one POST per VM, not waiting for tasks.
        const select = phase === 'start' ? 'select(.status == "stopped")' : phase === 'stop' ? 'select(.status == "running")' : '.'
        const action = phase === 'snapshot' ? 'snapshot' : `status/${phase}`
        const data = phase === 'snapshot' ? `-d snapname=${snapname}` : ''
        const script = [
          'set -o pipefail',
          `VMS=$(curl -sS --fail --cacert "$CA" -H @"$HDR" "$BASE/api2/json/cluster/resources?type=vm" | jq -r '.data[] | select(.tags // "" | split(";") | any(. == "bench")) | ${select} | "\\(.node) \\(.vmid)"')`,
          'echo "$VMS" | while read node vmid; do',
          '  [ -z "$node" ] && continue',
          `  curl -sS --cacert "$CA" -H @"$HDR" -X POST ${data} "$BASE/api2/json/nodes/$node/qemu/$vmid/${action}" > /dev/null`,
          'done',
        ].join('\n')
        const r = await runProcess('bash', ['-c', script], env)
        if (r.code !== 0) throw new Error(`curl loop exited ${r.code}: ${r.stderr.slice(-400)}`)
        await sim.control.idle()
      },
    }
    const ansibleAvailable = existsSync(join(VENV_BIN, 'ansible-playbook'))
    const ansibleIds = all.filter((_, i) => i < o.ansibleVms)
    const ansible: Contender = {
      name: `Ansible community.proxmox loop (${ansibleIds.length} VMs, scaled to ${o.vms})`,
      vmids: ansibleIds,
      async phase(sim, phase, env, snapname) {
        const vars = join(String(env.BENCH_DIR), `ansible-${phase}.json`)
        writeFileSync(vars, JSON.stringify({ phase, snapname, vms: ansibleIds.map((vmid) => ({ vmid, node: nodeOf(vmid) })) }))
        const r = await runProcess(join(VENV_BIN, 'ansible-playbook'), ['-i', 'localhost,', '-c', 'local', '-e', `ansible_python_interpreter=${join(VENV_BIN, 'python')}`, '-e', `@${vars}`, join(ROOT, 'bench/ansible/bulk.yml')], env)
        if (r.code !== 0) throw new Error(`ansible-playbook exited ${r.code}: ${r.stderr.slice(-600)}`)
      },
    }
    const contenders = [tool, curl, ...(o.ansibleVms && ansibleAvailable ? [ansible] : [])]
    if (o.ansibleVms && !ansibleAvailable) info('Ansible is not installed in .tools/venv (bash scripts/setup.sh): its column is left out')

    const results = new Map<string, Map<Phase, Outcome>>()
    let bounds: Record<Phase, { perNode: number; unlimited: number }> | undefined
    for (const c of contenders) {
      const sim = await startSimulator({ inventory: inventory(o.nodes, o.vms), timeFactor: o.timeFactor })
      const dir = mkdtempSync(join(tmpdir(), 'pm-bench-bulk-'))
      registerSecret(sim.rootToken.secret)
      try {
        const config = sim.writeClusterConfig(join(dir, 'cluster-config.yaml'), { limits: { per_node: o.perNode, per_storage: 2 } })
        const host = sim.nodes[0]
        const env = {
          ...process.env, ...sim.env(), PVE_CONFIG: config, TMPDIR: dir, BENCH_DIR: dir,
          CA: sim.caFile, HDR: header(dir, sim), BASE: host.url,
          PROXMOX_HOST: host.host, PROXMOX_PORT: String(host.port), PROXMOX_USER: sim.rootToken.id.split('!')[0],
          PROXMOX_TOKEN_ID: sim.rootToken.id.split('!')[1], PROXMOX_TOKEN_SECRET: sim.rootToken.secret,
          PROXMOX_VALIDATE_CERTS: 'true', REQUESTS_CA_BUNDLE: sim.caFile, ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCALHOST_WARNING: 'false',
        }
        bounds ??= Object.fromEntries(
          PHASES.map((p) => {
            const secs = sim.control.lowerBound([[{ op: SIM_STEP[p] }]]).seconds
            const busiest = Math.ceil(o.vms / o.nodes)
            return [p, { perNode: Math.ceil(busiest / o.perNode) * secs * o.timeFactor * 1000, unlimited: secs * o.timeFactor * 1000 }]
          }),
        ) as Record<Phase, { perNode: number; unlimited: number }>
        const row = new Map<Phase, Outcome>()
        results.set(c.name, row)
        for (const phase of PHASES) {
          const snapname = `pm-bench-${phase}`
          const tasksBefore = sim.control.state().tasks.length
          info(`${c.name}: ${phase} of ${c.vmids.length} VMs...`)
          const started = performance.now()
          try {
            await c.phase(sim, phase, env, 'pm-bench')
            const ms = performance.now() - started
            const missing = reached(sim, phase, c.vmids, phase === 'snapshot' ? 'pm-bench' : snapname)
            const failed = failedTasks(sim, tasksBefore)
            row.set(phase, { ms: (ms * o.vms) / c.vmids.length, ok: !missing, note: [missing, failed ? `${failed} tasks failed` : ''].filter(Boolean).join(', ') || undefined })
          } catch (err) {
            row.set(phase, { ms: NaN, ok: false, note: (err as Error).message.split('\n')[0] })
          }
        }
      } finally {
        await sim.stop()
        rmSync(dir, { recursive: true, force: true })
      }
    }

    const b = bounds!
    const fmt = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'failed')
    const lines = [
      `bench:bulk: ${o.vms} VMs on ${o.nodes} nodes, per_node=${o.perNode}, time factor ${o.timeFactor} (start 2 s, stop 1 s, snapshot 1 s simulated)`,
      '',
      `| contender | ${PHASES.map((p) => `${p} makespan | x bound`).join(' | ')} |`,
      `|---|${PHASES.map(() => '---:|---:').join('|')}|`,
      `| lower bound, per_node=${o.perNode} | ${PHASES.map((p) => `${fmt(b[p].perNode)} | 1.00`).join(' | ')} |`,
      `| lower bound, no limit (simulator) | ${PHASES.map((p) => `${fmt(b[p].unlimited)} | ${(b[p].unlimited / b[p].perNode).toFixed(2)}`).join(' | ')} |`,
    ]
    for (const [name, row] of results) {
      lines.push(`| ${name} | ${PHASES.map((p) => `${fmt(row.get(p)!.ms)}${row.get(p)!.ok ? '' : ' (!)'} | ${(row.get(p)!.ms / b[p].perNode).toFixed(2)}`).join(' | ')} |`)
    }
    const notes = [...results].flatMap(([name, row]) => PHASES.flatMap((p) => (row.get(p)!.note ? [`(!) ${name}, ${p}: ${row.get(p)!.note}`] : [])))
    const toolRow = results.get(tool.name)!
    const curlRow = results.get(curl.name)!
    lines.push('', `this tool vs. the seed curl loop: ${PHASES.map((p) => `${p} ${(curlRow.get(p)!.ms / toolRow.get(p)!.ms).toFixed(2)}x`).join(', ')} (>1: the tool is faster)`)
    if (results.has(ansible.name)) {
      const a = results.get(ansible.name)!
      lines.push(`this tool vs. Ansible: ${PHASES.map((p) => `${p} ${(a.get(p)!.ms / toolRow.get(p)!.ms).toFixed(2)}x`).join(', ')} (Ansible measured on ${ansibleIds.length} VMs, scaled linearly; its 'stopped' is a shutdown with forceStop)`)
    }
    lines.push('The curl loop fires every request without waiting: it finishes when the simulator is idle, with up to all VMs of a node working at once.', ...notes)
    process.stdout.write(lines.join('\n') + '\n')
  },
})
