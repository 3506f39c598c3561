// A throwaway workspace for talos:* commands: a cluster-config.yaml whose tools are the stand-ins
// (sandbox: true), a Talos profile on 127.x addresses, the stand-in's state and call log.
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse } from 'yaml'
import { schematicId, schematicYaml } from '../../scripts/lib/talos/schematic.ts'

export const REPO = resolve(import.meta.dirname, '..', '..')
export const REAL_TALOSCTL = process.env.PM_REAL_TALOSCTL ?? join(REPO, '.tools', 'bin', 'talosctl')
export const STANDIN_TALOSCTL = join(REPO, 'test', 'standins', 'talosctl')
export const STANDIN_FLUX = join(REPO, 'test', 'standins', 'flux')

export interface ProfileShape {
  name?: string
  version?: string
  kubernetes?: string
  controlplanes?: number
  workers?: number
  extensions?: string[]
  schematicId?: string
  vip?: boolean
  flux?: boolean
  secretsFile?: string
  configDir?: string
}

export function profileYaml(p: ProfileShape = {}): string {
  const name = p.name ?? 'lab'
  const cps = Array.from({ length: p.controlplanes ?? 3 }, (_, i) => `      - { name: ${name}-cp0${i + 1}, vmid: ${2001 + i}, ip: 127.0.10.${11 + i}, mac: "BC:24:11:00:00:${(0x11 + i).toString(16).toUpperCase()}" }`)
  const ws = Array.from({ length: p.workers ?? 1 }, (_, i) => `      - { name: ${name}-w0${i + 1}, vmid: ${2011 + i}, ip: 127.0.10.${21 + i}, mac: "BC:24:11:00:00:${(0x21 + i).toString(16).toUpperCase()}" }`)
  const ext = p.extensions ?? ['siderolabs/qemu-guest-agent']
  return `name: ${name}
type: talos
talos:
  version: "${p.version ?? 'v1.13.0'}"
  kubernetes_version: "${p.kubernetes ?? '1.35.0'}"
  config_dir: ${p.configDir ?? `state/${name}`}
  secrets_file: ${p.secretsFile ?? 'secrets.yaml'}
  factory:
    schematic_id: "${p.schematicId ?? schematicId(schematicYaml({ extensions: ext }))}"
    extensions: [${ext.join(', ')}]
  patches_dir: patches
${p.vip === false ? '' : '  vip: { interface: eth0, ip: 127.0.10.30 }\n'}network:
  api_endpoint: ${p.vip === false ? '127.0.10.11' : '127.0.10.30'}
  pod_cidr: 10.244.0.0/16
  service_cidr: 10.96.0.0/12
  gateway: 127.0.10.1
  prefix: 24
  dns: [127.0.10.1]
nodes:
  controlplane:
    count: ${cps.length}
    name_prefix: ${name}-cp
    assignments:
${cps.join('\n')}
  workers:
    count: ${ws.length}
    name_prefix: ${name}-w
    assignments:${ws.length ? '\n' + ws.join('\n') : ' []'}
template: 101
tags: [${name}]
${p.flux ? `flux:\n  repo: ssh://git@127.0.0.1/fleet.git\n  path: clusters/${name}\n  branch: main\n` : ''}`
}

export interface Workspace {
  dir: string
  env: NodeJS.ProcessEnv
  run(script: string, args: string[], opts?: { input?: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number; stdout: string; stderr: string }>
  log(): { tool: string; argv: string[] }[]
  calls(sub: string): string[][]
  state(): any
  setState(patch: Record<string, unknown>): void
  writeProfile(yaml: string, name?: string): void
  cleanup(): void
}

export function workspace(profile: ProfileShape | string = {}): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'pm-talos-'))
  mkdirSync(join(dir, 'clusters'))
  const logFile = join(dir, 'standin.jsonl')
  const stateFile = join(dir, 'standin-state.json')
  writeFileSync(
    join(dir, 'cluster-config.yaml'),
    `cluster:\n  name: test\n  nodes:\n    - { name: pve1, host: 127.0.0.1 }\ntls:\n  fingerprint: "${Array(32).fill('AB').join(':')}"\ntools:\n  talosctl: ${STANDIN_TALOSCTL}\n  flux: ${STANDIN_FLUX}\nsandbox: true\n`,
  )
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PVE_CONFIG: join(dir, 'cluster-config.yaml'),
    PM_CLUSTERS_DIR: join(dir, 'clusters'),
    PM_STANDIN_LOG: logFile,
    PM_STANDIN_STATE: stateFile,
    PM_REAL_TALOSCTL: REAL_TALOSCTL,
    NO_COLOR: '1',
  }
  const ws: Workspace = {
    dir,
    env,
    run(script, args, opts = {}) {
      return new Promise((resolveRun) => {
        const child = execFile(process.execPath, [join(REPO, script), ...args], { cwd: dir, env: { ...env, ...opts.env }, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
          resolveRun({ code: err ? ((err as any).code ?? 1) : 0, stdout, stderr })
        })
        if (opts.input !== undefined) child.stdin!.end(opts.input)
        else child.stdin!.end()
      })
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []),
    calls: (sub) => ws.log().filter((e) => e.tool === 'talosctl' && e.argv[0] === sub).map((e) => e.argv),
    state: () => (existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) : {}),
    setState(patch) {
      writeFileSync(stateFile, JSON.stringify({ ...ws.state(), ...patch }, null, 2))
    },
    writeProfile(yaml, name = 'lab') {
      writeFileSync(join(dir, 'clusters', `${name}.yaml`), yaml)
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
  if (typeof profile === 'string') ws.writeProfile(profile)
  else ws.writeProfile(profileYaml(profile), profile.name ?? 'lab')
  return ws
}

/** The talosctl tests need the real binary; setup.sh builds it. Missing is a failure, not a skip. */
export function requireRealTalosctl(): void {
  if (!existsSync(REAL_TALOSCTL)) throw new Error(`${REAL_TALOSCTL} is missing: run bash scripts/setup.sh (it builds talosctl from the Go module proxy)`)
}

/**
 * A bootstrapped cluster as the stand-in sees it (fixture addresses: control planes 127.0.10.11..,
 * workers 127.0.10.21..), with a placeholder talosconfig (the stand-in only checks it exists).
 */
export function runningCluster(ws: Workspace, cps: number, workers: number, override: Record<string, object> = {}, base: Record<string, unknown> = { version: 'v1.13.0' }): void {
  const nodes: Record<string, object> = {}
  for (let i = 0; i < cps; i++) nodes[`127.0.10.${11 + i}`] = { state: 'configured', role: 'controlplane', hostname: `lab-cp0${i + 1}`, ...base }
  for (let i = 0; i < workers; i++) nodes[`127.0.10.${21 + i}`] = { state: 'configured', role: 'worker', hostname: `lab-w0${i + 1}`, ...base }
  for (const [ip, patch] of Object.entries(override)) nodes[ip] = { ...nodes[ip], ...patch }
  ws.setState({ autoCreate: false, nodes, cluster: { bootstrapped: true, bootstrapCalls: 1, excluded: [] } })
  mkdirSync(join(ws.dir, 'state/lab'), { recursive: true })
  if (!existsSync(join(ws.dir, 'state/lab/talosconfig'))) writeFileSync(join(ws.dir, 'state/lab/talosconfig'), 'context: lab\n')
}

/** Every string of the profile's secrets bundle (8+ characters): none may reach argv, logs or output. */
export function secretValues(ws: { dir: string }, file = 'state/lab/secrets.yaml'): string[] {
  const out: string[] = []
  const walk = (v: unknown) => {
    if (typeof v === 'string' && v.length >= 8) out.push(v)
    else if (v && typeof v === 'object') Object.values(v).forEach(walk)
  }
  walk(parse(readFileSync(join(ws.dir, file), 'utf8')))
  return out
}
