// Test helpers around the simulator: a raw PVE API client (status line, body, headers, with
// optional token) and a task waiter, for tests that assert PVE's wire behaviour.
import { readFileSync } from 'node:fs'
import { Agent, fetch } from 'undici'
import type { Simulator } from '../sim/index.ts'

export { startSimulator, type Simulator } from '../sim/index.ts'

export interface RawResponse { status: number; reason: string; body: any; text: string; headers: Record<string, string> }

export interface ClientOptions {
  token?: { id: string; secret: string }
  /** Node whose listener receives the requests (default: the first). */
  node?: string
  /** Marks the requests as deliberately invalid, so the recorded-requests check skips them. */
  negative?: boolean
}

const agents = new WeakMap<Simulator, Agent>()

export function apiClient(sim: Simulator, opts: ClientOptions = {}) {
  let agent = agents.get(sim)
  if (!agent) agents.set(sim, (agent = new Agent({ connect: { ca: readFileSync(sim.caFile) } })))
  const token = opts.token ?? sim.rootToken
  const base = (sim.nodes.find((n) => n.name === opts.node) ?? sim.nodes[0]).url
  async function raw(method: string, path: string, params?: Record<string, unknown>, extra: { json?: boolean; headers?: Record<string, string> } = {}): Promise<RawResponse> {
    const headers: Record<string, string> = { Authorization: `PVEAPIToken=${token.id}=${token.secret}`, ...extra.headers }
    if (opts.negative) headers['X-Sim-Negative'] = '1'
    let url = `${base}/api2/json${path}`
    let body: string | undefined
    const entries = Object.entries(params ?? {}).filter(([, v]) => v !== undefined)
    if (method === 'GET' || method === 'DELETE') {
      if (entries.length) url += `?${new URLSearchParams(entries.map(([k, v]): [string, string] => [k, String(v)])).toString()}`
    } else if (entries.length) {
      if (extra.json) {
        headers['Content-Type'] = 'application/json'
        body = JSON.stringify(Object.fromEntries(entries))
      } else {
        headers['Content-Type'] = 'application/x-www-form-urlencoded'
        body = new URLSearchParams(entries.map(([k, v]): [string, string] => [k, String(v)])).toString()
      }
    }
    const res = await fetch(url, { method, headers, body, dispatcher: agent })
    const text = await res.text()
    let parsed: any = null
    try { parsed = text ? JSON.parse(text) : null } catch { parsed = null }
    return { status: res.status, reason: res.statusText, body: parsed, text, headers: Object.fromEntries(res.headers) }
  }
  async function data(method: string, path: string, params?: Record<string, unknown>): Promise<any> {
    const r = await raw(method, path, params)
    if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${r.reason}`)
    return r.body.data
  }
  return {
    raw,
    get: (path: string, params?: Record<string, unknown>) => data('GET', path, params),
    post: (path: string, params?: Record<string, unknown>) => data('POST', path, params),
    put: (path: string, params?: Record<string, unknown>) => data('PUT', path, params),
    delete: (path: string, params?: Record<string, unknown>) => data('DELETE', path, params),
    /** Polls a task until it stops; returns its status object and log lines. */
    async wait(upid: string, timeoutMs = 20_000): Promise<{ status: any; log: string[] }> {
      const node = upid.split(':')[1]
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const status = await data('GET', `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`)
        if (status.status === 'stopped') {
          const log = await data('GET', `/nodes/${node}/tasks/${encodeURIComponent(upid)}/log`, { limit: 0 })
          return { status, log: log.map((l: { t: string }) => l.t) }
        }
        if (Date.now() > deadline) throw new Error(`task ${upid} still running`)
        await new Promise((r) => setTimeout(r, 5))
      }
    },
  }
}

export type ApiClient = ReturnType<typeof apiClient>
