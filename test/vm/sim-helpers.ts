// Running VM commands against a simulator: one sandbox per test file, the scripts as real
// subprocesses (Node 24, no terminal), and the request log to count what was sent.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { startSimulator, type Simulator, type SimulatorOptions } from '../sim/index.ts'

const ROOT = resolve(import.meta.dirname, '../..')

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

export interface Sandbox {
  sim: Simulator
  env: Record<string, string>
  dir: string
  /** Runs scripts/<script>.ts with args; stdin is not a terminal. */
  run(script: string, args: string[], opts?: { env?: Record<string, string>; input?: string }): Promise<RunResult>
  /** Requests after `mark` (an index into sim.requests) that change something. */
  mutations(mark: number): { method: string; path: string; params: Record<string, unknown> }[]
  mark(): number
  /** Resolves once the simulator has answered a request matching `pred` (after `mark`). */
  seen(pred: (r: { method: string; path: string }) => boolean, mark: number): Promise<void>
  /** Every line any run printed (stdout and stderr), for leak checks. */
  output: string[]
  stop(): Promise<void>
}

export async function sandbox(opts: SimulatorOptions = {}): Promise<Sandbox> {
  const sim = await startSimulator({ inventory: 'sandbox', timeFactor: 0.002, ...opts })
  const dir = mkdtempSync(join(tmpdir(), 'vmops-test-'))
  const config = sim.writeClusterConfig(join(dir, 'cluster-config.yaml'), { limits: { per_node: 4, per_storage: 2 } })
  // claims of VMIDs live per test sandbox, so parallel test files never see each other's
  const env = { ...sim.env(), PVE_CONFIG: config, TMPDIR: dir }
  const output: string[] = []
  return {
    sim,
    env,
    dir,
    output,
    run(script, args, o = {}) {
      return new Promise((done, fail) => {
        const child = spawn(process.execPath, [join(ROOT, 'scripts', `${script}.ts`), ...args], {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, NODE_OPTIONS: '--disable-warning=ExperimentalWarning', ...env, ...o.env },
          stdio: ['pipe', 'pipe', 'pipe'],
        })
        let stdout = ''
        let stderr = ''
        child.stdout.on('data', (d) => (stdout += d))
        child.stderr.on('data', (d) => (stderr += d))
        child.on('error', fail)
        child.on('close', (code) => {
          output.push(stdout, stderr)
          done({ code: code ?? -1, stdout, stderr })
        })
        child.stdin.end(o.input ?? '')
      })
    },
    mark: () => sim.requests.length,
    async seen(pred, mark) {
      while (!sim.requests.slice(mark).some(pred)) await new Promise((r) => setTimeout(r, 10))
    },
    mutations: (mark) => sim.requests.slice(mark).filter((r) => r.method !== 'GET'),
    async stop() {
      await sim.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export const vmState = (sim: Simulator, vmid: number) => sim.control.state().vms.find((v) => v.vmid === vmid)
