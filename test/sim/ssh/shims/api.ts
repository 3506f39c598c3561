// How the shims reach the simulated node: its PVE API over HTTPS, verified against the simulator's
// CA, authenticated with the token the sshd harness put into the session environment.
import { readFileSync } from 'node:fs'
import { Agent, request } from 'node:https'

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

/** Encodes one path segment exactly once, whether or not the caller already encoded it. */
function encodeSegment(segment: string): string {
  let decoded = segment
  try {
    decoded = decodeURIComponent(segment)
  } catch {
    // not valid percent-encoding: take it literally
  }
  return encodeURIComponent(decoded)
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
    this.#agent = new Agent({ ca: readFileSync(env('PVE_SIM_CA_FILE')), keepAlive: true })
  }

  async call<T = unknown>(method: string, path: string, params: Params = {}): Promise<T> {
    const url = new URL(`${this.#base}/api2/json${path.split('/').map(encodeSegment).join('/')}`)
    const encoded = encode(params).toString()
    // On a PVE node qm, pvesh and pveum act as root@pam, not as an API token.
    const headers: Record<string, string> = { Authorization: this.#auth, 'X-Sim-Cli': 'root@pam' }
    let body: string | undefined
    if (method === 'GET' || method === 'DELETE') url.search = encoded
    else {
      body = encoded
      headers['Content-Type'] = 'application/x-www-form-urlencoded'
      headers['Content-Length'] = String(Buffer.byteLength(body))
    }
    const res = await this.#send(url, method, headers, body)
    let parsed: { data?: unknown; message?: string; errors?: Record<string, string> } = {}
    try {
      parsed = res.text ? JSON.parse(res.text) : {}
    } catch {
      // 401s have an empty body; other non-JSON bodies are reported by status below.
    }
    if (res.status !== 200) {
      const message = parsed.message ?? `${res.reason || `HTTP ${res.status}`}\n`
      throw new ApiCallError({ status: res.status, message, errors: parsed.errors })
    }
    return parsed.data as T
  }

  /** The simulator's control API (root token only): what PVE's CLIs do as root@pam in-process. */
  async control<T = unknown>(action: string, ...args: unknown[]): Promise<T> {
    const body = JSON.stringify({ action, args })
    const res = await this.#send(new URL(`${this.#base}/sim/control`), 'POST', { Authorization: this.#auth, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) }, body)
    const parsed = JSON.parse(res.text || '{}') as { data?: unknown; message?: string }
    if (res.status !== 200) throw new ApiCallError({ status: res.status, message: parsed.message ?? `${res.reason}\n` })
    return parsed.data as T
  }

  #send(url: URL, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; reason: string; text: string }> {
    // A test that sends invalid input on purpose says so (PM_SIM_NEGATIVE=1 qm ...), so the
    // conformance check after the suite does not count it as a request of the tool.
    if (process.env.PM_SIM_NEGATIVE === '1') headers = { ...headers, 'X-Sim-Negative': '1' }
    return new Promise((done, fail) => {
      const req = request(url, { method, headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => done({ status: res.statusCode ?? 0, reason: res.statusMessage ?? '', text: Buffer.concat(chunks).toString() }))
        res.on('error', fail)
      })
      req.on('error', fail)
      req.end(body)
    })
  }

  async close(): Promise<void> {
    this.#agent.destroy()
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
