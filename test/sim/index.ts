// startSimulator(): a simulated Proxmox VE 9.1 cluster over HTTPS on loopback, for tests,
// benchmarks and the sandbox. See README.md for the contract.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { stringify } from 'yaml'
import { createCa, createNodeCert } from './certs.ts'
import { SimContext, type RequestRecord } from './context.ts'
import { Control } from './control.ts'
import type { FaultSchedule } from './faults.ts'
import { generatedInventory, loadInventory, sandboxInventory, type Inventory } from './inventory.ts'
import { Router } from './router.ts'
import { startListener, type NodeListener } from './server.ts'
import { register as registerAccess } from './routes/access.ts'
import { register as registerCluster } from './routes/cluster.ts'
import { register as registerNodes } from './routes/nodes.ts'
import { register as registerQemu } from './routes/qemu.ts'
import { register as registerQemuOps } from './routes/qemu-ops.ts'
import { readFileSync } from 'node:fs'

export type { Inventory, FaultSchedule, RequestRecord }
export { Control, generatedInventory, sandboxInventory }

export interface SimulatorOptions {
  /** Node count when no inventory says otherwise (default 3). */
  nodes?: number
  inventory?: 'empty' | 'sandbox' | Inventory
  /** Simulated seconds → wall clock (default 0.001: a 30 s clone takes 30 ms). */
  timeFactor?: number
  seed?: number
  /** A fault schedule, or the path of a JSON file holding one. */
  faults?: FaultSchedule | string
  /** Append every request as JSONL to this file. */
  requestLog?: string
  /** Where certificates live (default: a fresh temp dir, removed by stop()). */
  dir?: string
  /** Wall-clock delay of 401 answers (PVE: 3000 ms); default 0. */
  authFailureDelayMs?: number
}

export interface SimNodeInfo { name: string; host: string; port: number; url: string; fingerprint: string }

export interface Simulator {
  nodes: SimNodeInfo[]
  /** PEM file of the simulator's CA (PVE's pve-root-ca.pem). */
  caFile: string
  /** root@pam!sim, privsep=0: full access, and the control API. */
  rootToken: { id: string; secret: string }
  /** Writes a cluster-config.yaml pointing at the simulator (tls.ca_file set); returns its path. */
  writeClusterConfig(path: string, overrides?: Record<string, unknown>): string
  /** Environment for subprocesses: PVE_TOKEN_ID, PVE_TOKEN_SECRET, PVE_CA_FILE, PVE_ENDPOINT (+ PVE_CONFIG if written). */
  env(extra?: Record<string, string>): Record<string, string>
  /** Requests answered so far (method, path, params without secrets, status, node, ms). */
  requests: RequestRecord[]
  control: Control
  /** The runtime (state, access control, tasks, locks) for white-box assertions. */
  context: SimContext
  stop(): Promise<void>
}

let instance = 0

function recordFile(): string | undefined {
  if (process.env.PM_RECORD_REQUESTS !== '1') return undefined
  const dir = resolve(process.env.PM_RECORD_DIR ?? '.test-artifacts/requests')
  mkdirSync(dir, { recursive: true })
  return join(dir, `${process.pid}-${++instance}.jsonl`)
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const ownDir = !opts.dir
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'pve-sim-'))
  mkdirSync(dir, { recursive: true })
  const faults = typeof opts.faults === 'string' ? (JSON.parse(readFileSync(opts.faults, 'utf8')) as FaultSchedule) : opts.faults
  const sim = new SimContext({ timeFactor: opts.timeFactor ?? 0.001, seed: opts.seed ?? 1, faults, requestLog: opts.requestLog, authFailureDelayMs: opts.authFailureDelayMs ?? 0 }, recordFile())
  if (opts.requestLog) mkdirSync(dirname(opts.requestLog), { recursive: true })

  const inv: Inventory = opts.inventory === 'sandbox' ? sandboxInventory() : opts.inventory === 'empty' || !opts.inventory ? { nodes: opts.nodes ?? 3 } : opts.inventory
  if (inv.nodes === undefined && opts.nodes) inv.nodes = opts.nodes
  const [a, b] = [1 + Math.floor(Math.random() * 250), Math.floor(Math.random() * 256)]
  const ipFor = (i: number) => `127.${a}.${b}.${i + 1}`
  loadInventory(sim, inv, ipFor)

  const caFile = createCa(dir)
  const router = new Router()
  for (const register of [registerCluster, registerNodes, registerQemu, registerQemuOps, registerAccess]) register(router)
  const listeners = new Map<string, NodeListener>()
  const nodes: SimNodeInfo[] = []
  for (const n of sim.state.nodes.values()) {
    const cert = createNodeCert(dir, n.name, n.ip)
    sim.fingerprints.set(n.name, cert.fingerprint)
    const l = await startListener({ sim, router, listeners, name: n.name, host: n.ip, key: cert.key, cert: cert.cert })
    listeners.set(n.name, l)
    nodes.push({ name: n.name, host: n.ip, port: l.port, url: `https://${n.ip}:${l.port}`, fingerprint: cert.fingerprint })
  }
  const rootToken = sim.access.addToken('root@pam', 'sim', { privsep: false })
  const control = new Control(sim, listeners)
  sim.control = control
  let configPath: string | undefined

  const simulator: Simulator = {
    nodes, caFile, rootToken, control, context: sim, requests: sim.requests,
    writeClusterConfig(path, overrides = {}) {
      const config = {
        cluster: { name: sim.state.clusterName, nodes: nodes.map((n) => ({ name: n.name, host: n.host, port: n.port })) },
        credentials: { pass_path: 'proxmox/sim/api-token', ssh_user: 'root' },
        tls: { ca_file: caFile },
        ...overrides,
      }
      mkdirSync(dirname(resolve(path)), { recursive: true })
      writeFileSync(path, `# Generated by the PVE simulator (test/sim); points at its loopback nodes.\n${stringify(config)}`)
      configPath = resolve(path)
      return configPath
    },
    env(extra = {}) {
      return {
        PVE_TOKEN_ID: rootToken.id, PVE_TOKEN_SECRET: rootToken.secret, PVE_CA_FILE: caFile, PVE_ENDPOINT: nodes[0].url,
        ...(configPath ? { PVE_CONFIG: configPath } : {}), ...extra,
      }
    },
    async stop() {
      await Promise.all([...listeners.values()].map((l) => l.close()))
      for (const t of sim.tasks.tasks.values()) if (t.status === 'running') t.abort.abort(new Error('simulator stopped'))
      if (ownDir) rmSync(dir, { recursive: true, force: true })
    },
  }
  return simulator
}
