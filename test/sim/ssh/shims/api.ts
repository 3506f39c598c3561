// How the shims reach the simulated node: its PVE API over HTTPS, verified against the simulator's
// CA, authenticated with the token the sshd harness put into the session environment.
import { readFileSync } from 'node:fs'
import { Agent, fetch } from 'undici'

export interface ApiFailure {
  status: number
  message: string
  errors?: Record<string, string>
}

export class ApiCallError extends Error {
  status: number
  errors?: Record<string, string>
  constructor(failure: ApiFailure) {
    super(failure.message)
    this.status = failure.status
    this.errors = failure.errors
  }
}

type Params = Record<string, unknown>

function encode(params: Params): URLSearchParams {
  const out = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) continue
    if (Array.isArray(v)) for (const item of v) out.append(k, String(item))
    else out.append(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v))
  }
  return out
}

function env(name: string): string {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is not set (the shims run inside the simulator's sshd sessions)`)
  return v
}

export class SimApi {
  readonly node: string
  readonly #base: string
  readonly #auth: string
  readonly #agent: Agent

  constructor() {
    this.node = env('PVE_SIM_NODE')
    this.#base = env('PVE_SIM_URL').replace(/\/+$/, '')
    this.#auth = `PVEAPIToken=${env('PVE_SIM_TOKEN_ID')}=${env('PVE_SIM_TOKEN_SECRET')}`
    this.#agent = new Agent({ connect: { ca: readFileSync(env('PVE_SIM_CA_FILE')) } })
  }

  async call<T = unknown>(method: string, path: string, params: Params = {}): Promise<T> {
    const url = new URL(`${this.#base}/api2/json${path.split('/').map(encodeURIComponent).join('/')}`)
    const init: { method: string; headers: Record<string, string>; body?: string; dispatcher: Agent } = {
      method,
      headers: { Authorization: this.#auth },
      dispatcher: this.#agent,
    }
    const encoded = encode(params)
    if (method === 'GET' || method === 'DELETE') url.search = encoded.toString()
    else {
      init.body = encoded.toString()
      init.headers['Content-Type'] = 'application/x-www-form-urlencoded'
    }
    const res = await fetch(url, init)
    const text = await res.text()
    let body: { data?: unknown; message?: string; errors?: Record<string, string> } = {}
    try {
      body = text ? JSON.parse(text) : {}
    } catch {
      // 401s have an empty body; other non-JSON bodies are reported by status below.
    }
    if (res.status !== 200) {
      const message = body.message ?? `${res.statusText || `HTTP ${res.status}`}\n`
      throw new ApiCallError({ status: res.status, message, errors: body.errors })
    }
    return body.data as T
  }

  async close(): Promise<void> {
    await this.#agent.close()
  }
}

export interface TaskOutcome {
  exitstatus: string
  ok: boolean
  warnings: number
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Follows a task like the CLI's foreground worker does: its log lines go to stdout as they appear,
 * the final `TASK ...` line does not.
 */
export async function followTask(api: SimApi, upid: string, write: (s: string) => void): Promise<TaskOutcome> {
  const node = upid.split(':')[1]
  const base = `/nodes/${node}/tasks/${upid}`
  let printed = 0
  const drain = async () => {
    const lines = await api.call<{ n: number; t: string }[]>('GET', `${base}/log`, { start: printed, limit: 0 })
    for (const line of lines) {
      if (line.n <= printed) continue
      printed = line.n
      if (/^TASK (OK|ERROR: |WARNINGS: )/.test(line.t) || line.t === 'no content') continue
      write(`${line.t}\n`)
    }
  }
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    const status = await api.call<{ status: string; exitstatus?: string }>('GET', `${base}/status`)
    await drain()
    if (status.status === 'stopped') {
      const exitstatus = status.exitstatus ?? 'unexpected status'
      const warn = /^WARNINGS: (\d+)$/.exec(exitstatus)
      return { exitstatus, ok: exitstatus === 'OK' || Boolean(warn), warnings: warn ? Number(warn[1]) : 0 }
    }
    await pause(delay)
  }
}

export function isUpid(value: unknown): value is string {
  return typeof value === 'string' && /^UPID:[^:]+:[0-9A-Fa-f]{8}:/.test(value)
}
