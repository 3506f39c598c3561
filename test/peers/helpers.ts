// Shared by the peer tests: the Python venv from scripts/setup.d/ansible.sh, a child-process
// runner, and a small verified-TLS API client for checking the simulator's state afterwards.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Agent, fetch } from 'undici'

export const ROOT = resolve(import.meta.dirname, '../..')
export const VENV_BIN = join(ROOT, '.tools', 'venv', 'bin')

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

export function run(cmd: string, args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 180_000)
    child.once('error', (e) => {
      clearTimeout(timer)
      fail(e)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      done({ code: code ?? (signal ? 128 : 1), stdout, stderr })
    })
  })
}

export interface SimHandle {
  nodes: { name: string; host: string; port: number; url: string }[]
  caFile: string
  rootToken: { id: string; secret: string }
}

/** GET/POST/... against the simulator with its CA; returns the envelope's data. */
export function simApi(sim: SimHandle) {
  const agent = new Agent({ connect: { ca: readFileSync(sim.caFile) } })
  const call = async <T = any>(method: string, path: string, params: Record<string, string | number> = {}): Promise<T> => {
    const url = new URL(`${sim.nodes[0].url}/api2/json${path}`)
    const body = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]))
    const withBody = method === 'POST' || method === 'PUT'
    if (!withBody) url.search = body.toString()
    const res = await fetch(url, {
      method,
      dispatcher: agent,
      headers: { Authorization: `PVEAPIToken=${sim.rootToken.id}=${sim.rootToken.secret}`, ...(withBody ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}) },
      body: withBody ? body.toString() : undefined,
    })
    const json = (await res.json().catch(() => ({}))) as { data?: T; message?: string }
    if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${json.message ?? res.statusText}`)
    return json.data as T
  }
  /** Waits for a task to end; returns its exit status. */
  const wait = async (upid: string): Promise<string> => {
    const node = upid.split(':')[1]
    for (;;) {
      const status = await call<{ status: string; exitstatus?: string }>('GET', `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`)
      if (status.status === 'stopped') return status.exitstatus ?? ''
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  return { call, wait, close: () => agent.close() }
}

/** A stopped, full-cloneable template of the simulator's inventory, and where it lives. */
export async function findTemplate(api: ReturnType<typeof simApi>): Promise<{ vmid: number; node: string; name: string }> {
  const vms = await api.call<{ vmid: number; node: string; name?: string; template?: number }[]>('GET', '/cluster/resources', { type: 'vm' })
  const template = vms.filter((v) => v.template === 1).sort((a, b) => a.vmid - b.vmid)[0]
  if (!template) throw new Error('the simulator inventory has no template')
  return { vmid: template.vmid, node: template.node, name: template.name ?? `VM ${template.vmid}` }
}
