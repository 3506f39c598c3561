// The sandbox: `task sim:up|down|reset|status`. `up` starts the simulator in the background with
// the sandbox inventory and writes .sandbox/{cluster-config.yaml,env,sim.json,requests.jsonl}.
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startSimulator } from './index.ts'

const root = resolve(fileURLToPath(new URL('../../', import.meta.url)))
const dir = join(root, '.sandbox')
const stateFile = join(dir, 'sim.json')

interface SandboxState { pid: number; nodes: { name: string; url: string }[]; startedAt: string }

function running(): SandboxState | undefined {
  if (!existsSync(stateFile)) return undefined
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as SandboxState
  try {
    process.kill(state.pid, 0)
    return state
  } catch {
    return undefined
  }
}

async function serve() {
  mkdirSync(dir, { recursive: true })
  const sim = await startSimulator({
    inventory: 'sandbox',
    timeFactor: Number(process.env.SIM_TIME_FACTOR ?? 0.05),
    dir: join(dir, 'certs'),
    requestLog: join(dir, 'requests.jsonl'),
    authFailureDelayMs: 3000,
  })
  sim.writeClusterConfig(join(dir, 'cluster-config.yaml'), {
    sandbox: true,
    tools: { talosctl: join(root, 'test/standins/talosctl'), flux: join(root, 'test/standins/flux') },
  })
  const env = sim.env()
  const lines = [
    '# PVE simulator sandbox (task sim:up). Throwaway credentials for the simulator only.',
    `export PVE_ENDPOINT=${env.PVE_ENDPOINT}`,
    `export PVE_TOKEN_ID='${env.PVE_TOKEN_ID}'`,
    `export PVE_TOKEN_SECRET='${env.PVE_TOKEN_SECRET}'`,
    `export PVE_CA_FILE=${env.PVE_CA_FILE}`,
    `export PVE_CONFIG=${join(dir, 'cluster-config.yaml')}`,
  ]
  writeFileSync(join(dir, 'env'), lines.join('\n') + '\n', { mode: 0o600 })
  const state: SandboxState = { pid: process.pid, nodes: sim.nodes.map((n) => ({ name: n.name, url: n.url })), startedAt: new Date().toISOString() }
  writeFileSync(stateFile, JSON.stringify(state, null, 2))
  const shutdown = async () => {
    await sim.stop()
    rmSync(stateFile, { force: true })
    process.exit(0)
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
}

async function up() {
  const existing = running()
  if (existing) {
    console.log(`The sandbox is already running (pid ${existing.pid}). task sim:reset starts a fresh one.`)
    return
  }
  mkdirSync(dir, { recursive: true })
  rmSync(stateFile, { force: true })
  const log = openSync(join(dir, 'sim.log'), 'a')
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve'], { detached: true, stdio: ['ignore', log, log], env: process.env })
  child.unref()
  const deadline = Date.now() + 20_000
  while (!running()) {
    if (Date.now() > deadline) throw new Error(`the simulator did not start; see ${join(dir, 'sim.log')}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  const state = running()!
  console.log(`PVE simulator sandbox is up (pid ${state.pid}): 3 nodes, templates 100 (cloud-init) and 101 (Talos), tagged VMs.`)
  for (const n of state.nodes) console.log(`  ${n.name}  ${n.url}`)
  console.log(`
Use it:
  export PVE_CONFIG=.sandbox/cluster-config.yaml     # or: source .sandbox/env (token + CA for other clients)
  task pve:status
  task pve:vms

Every request is logged to .sandbox/requests.jsonl. Talos and Flux steps run against stand-ins
(test/standins/), not real nodes. Stop with task sim:down; start over with task sim:reset.`)
}

function down() {
  const state = running()
  if (!state) {
    console.log('The sandbox is not running.')
    return
  }
  process.kill(state.pid, 'SIGTERM')
  console.log(`Stopped the sandbox (pid ${state.pid}).`)
}

async function waitDown() {
  const deadline = Date.now() + 10_000
  while (running() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
}

const cmd = process.argv[2]
if (cmd === 'serve') await serve()
else if (cmd === 'up') await up()
else if (cmd === 'down') {
  down()
  await waitDown()
} else if (cmd === 'reset') {
  down()
  await waitDown()
  rmSync(join(dir, 'requests.jsonl'), { force: true })
  await up()
} else if (cmd === 'status') {
  const state = running()
  console.log(state ? `running (pid ${state.pid}) since ${state.startedAt}\n${state.nodes.map((n) => `  ${n.name}  ${n.url}`).join('\n')}` : 'not running')
} else {
  console.error('usage: node test/sim/cli.ts up|down|reset|status')
  process.exit(2)
}
