// The one PVE API client: in-process HTTPS (undici), API-token auth, a deadline on every request,
// failover across the cluster's nodes, retries only for idempotent GETs, and PVE's error envelope
// turned into a typed ApiError that never carries headers or the token.
import type { Dispatcher } from 'undici'
import { debug } from '../cli.ts'
import type { Credentials } from '../credentials.ts'
import { ApiError, EXIT, type ExitCode } from '../errors.ts'
import { warn } from '../output.ts'

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'
export type Params = Record<string, string | number | boolean | undefined | null | ReadonlyArray<string | number | boolean>>

export interface Endpoint {
  name: string
  host: string
  port: number
}

export interface RequestOptions {
  /** Deadline for this request in ms (default: the client's timeoutMs). */
  timeoutMs?: number
  signal?: AbortSignal
}

export interface Envelope<T> {
  data: T
  /** Paged lists (task log, task list) carry the full count here. */
  total?: number
}

export interface PveClientOptions {
  nodes: Endpoint[]
  /** Resolved on the first request, so commands that never call the API never need a token. */
  credentials: () => Promise<Credentials>
  /** The HTTPS agent (pve/tls.ts), or a factory called on the first request. */
  dispatcher: Dispatcher | (() => Promise<Dispatcher>)
  timeoutMs?: number
  /** Extra attempts for idempotent GETs on transient failures. */
  retries?: number
  retryBaseMs?: number
  /** Called when a node fails at the transport level and the next one is tried. */
  onFailover?: (failed: Endpoint, reason: string, next: Endpoint) => void
}

/** Builds an API path, encoding each interpolated segment: apiPath`/nodes/${node}/tasks/${upid}/status`. */
export function apiPath(strings: TemplateStringsArray, ...segments: Array<string | number>): string {
  return strings.reduce((acc, s, i) => acc + s + (i < segments.length ? encodeURIComponent(String(segments[i])) : ''), '')
}

/** PVE's form/query encoding: booleans as 1/0, arrays as repeated keys, undefined/null dropped. */
export function encodeParams(params: Params | undefined): string {
  const parts: string[] = []
  const scalar = (v: string | number | boolean) => (typeof v === 'boolean' ? (v ? '1' : '0') : String(v))
  for (const [key, value] of Object.entries(params ?? {})) {
    if (value === undefined || value === null) continue
    for (const v of Array.isArray(value) ? value : [value]) parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(scalar(v as string | number | boolean))}`)
  }
  return parts.join('&')
}

// Failures where the request certainly never reached PVE: safe to try another node, even for a POST.
const NOT_SENT = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_PM_FINGERPRINT_MISMATCH'])
const TLS_CHAIN = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE'])
const TLS_OTHER = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_SSL_WRONG_VERSION_NUMBER', 'EPROTO', 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE'])
// PVE's proxy pseudo-statuses (AnyEvent::HTTP): 595 connect, 596 TLS/headers, 599 other.
const TRANSIENT_STATUS = new Set([595, 596, 599])

// Worth another try for a GET: the node may be back, the reset may not happen again.
const TRANSIENT_CODES = new Set([...NOT_SENT, 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])
TRANSIENT_CODES.delete('ERR_PM_FINGERPRINT_MISMATCH')

const isTlsCode = (code: string) => TLS_CHAIN.has(code) || TLS_OTHER.has(code) || code === 'ERR_PM_FINGERPRINT_MISMATCH' || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')

/** True for failures worth retrying a GET on: resets, timeouts, unreachable nodes, 595/596/599. */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof ApiError)) return false
  if (err.status !== 0) return TRANSIENT_STATUS.has(err.status)
  return TRANSIENT_CODES.has(err.code ?? '')
}

export class PveClient {
  readonly nodes: Endpoint[]
  private readonly options: PveClientOptions
  private credentials?: Promise<Credentials>
  private dispatcher?: Promise<Dispatcher>
  private current = 0

  constructor(options: PveClientOptions) {
    if (!options.nodes.length) throw new Error('PveClient needs at least one node')
    this.nodes = options.nodes
    this.options = options
  }

  get<T>(path: string, params?: Params, opts?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, params, opts).then((e) => e.data)
  }
  post<T>(path: string, params?: Params, opts?: RequestOptions): Promise<T> {
    return this.request<T>('POST', path, params, opts).then((e) => e.data)
  }
  put<T>(path: string, params?: Params, opts?: RequestOptions): Promise<T> {
    return this.request<T>('PUT', path, params, opts).then((e) => e.data)
  }
  delete<T>(path: string, params?: Params, opts?: RequestOptions): Promise<T> {
    return this.request<T>('DELETE', path, params, opts).then((e) => e.data)
  }

  /** The node currently answering (the first healthy one in config order). */
  get activeNode(): Endpoint {
    return this.nodes[this.current]
  }

  async close(): Promise<void> {
    if (this.dispatcher) await (await this.dispatcher).close()
  }

  private agent(): Promise<Dispatcher> {
    const d = this.options.dispatcher
    return (this.dispatcher ??= typeof d === 'function' ? d() : Promise.resolve(d))
  }

  /** One request with the whole envelope; GETs are retried with backoff on transient failures. */
  async request<T>(method: Method, path: string, params?: Params, opts: RequestOptions = {}): Promise<Envelope<T>> {
    const attempts = method === 'GET' ? (this.options.retries ?? 3) + 1 : 1
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.sendWithFailover<T>(method, path, params, opts)
      } catch (err) {
        if (attempt >= attempts || !isTransient(err) || opts.signal?.aborted) throw err
        const delay = backoff(attempt, this.options.retryBaseMs ?? 250)
        debug(`retrying ${method} ${path} in ${delay} ms (attempt ${attempt + 1}/${attempts}): ${(err as Error).message}`)
        await sleep(delay, opts.signal)
      }
    }
  }

  /** Tries the nodes in order from the current healthy one; moves on only when nothing was sent. */
  private async sendWithFailover<T>(method: Method, path: string, params: Params | undefined, opts: RequestOptions): Promise<Envelope<T>> {
    const failures: ApiError[] = []
    for (let i = 0; i < this.nodes.length; i++) {
      const index = (this.current + i) % this.nodes.length
      const node = this.nodes[index]
      try {
        const result = await this.send<T>(node, method, path, params, opts)
        this.current = index
        return result
      } catch (err) {
        const nothingSent = err instanceof ApiError && err.status === 0 && (NOT_SENT.has(err.code ?? '') || isTlsCode(err.code ?? ''))
        if (!nothingSent) throw err
        failures.push(err)
        const next = this.nodes[(index + 1) % this.nodes.length]
        if (i + 1 < this.nodes.length) (this.options.onFailover ?? defaultFailover)(node, err.message, next)
      }
    }
    if (failures.length === 1) throw failures[0]
    throw new ApiError({
      message: `no cluster node answered ${method} ${path}:\n${failures.map((f) => `  ${f.message}`).join('\n')}`,
      status: 0,
      method,
      path,
      code: failures[failures.length - 1].code,
      hint: failures.every((f) => isTlsCode(f.code ?? '')) ? failures[0].hint : 'check cluster.nodes in cluster-config.yaml and that the nodes are up (task pve:check)',
    })
  }

  private async send<T>(node: Endpoint, method: Method, path: string, params: Params | undefined, opts: RequestOptions): Promise<Envelope<T>> {
    const { tokenId, secret } = await (this.credentials ??= this.options.credentials())
    const dispatcher = await this.agent()
    const encoded = encodeParams(params)
    const inQuery = method === 'GET' || method === 'DELETE'
    const apiPath = `/api2/json${path}${inQuery && encoded ? `?${encoded}` : ''}`
    const timeoutMs = opts.timeoutMs ?? this.options.timeoutMs ?? 30_000
    const deadline = AbortSignal.timeout(timeoutMs)
    const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline
    const started = performance.now()
    const where = `${node.name} (${hostPort(node)})`
    let res: Dispatcher.ResponseData
    try {
      res = await dispatcher.request({
        origin: `https://${hostPort(node)}`,
        path: apiPath,
        method,
        headers: {
          authorization: `PVEAPIToken=${tokenId}=${secret}`,
          accept: 'application/json',
          ...(!inQuery && encoded ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        body: !inQuery && encoded ? encoded : undefined,
        signal,
      })
    } catch (err) {
      throw transportError(err, { node, where, method, path, timeoutMs, timedOut: deadline.aborted, aborted: !!opts.signal?.aborted })
    }
    let text: string
    try {
      text = await res.body.text()
    } catch (err) {
      throw transportError(err, { node, where, method, path, timeoutMs, timedOut: deadline.aborted, aborted: !!opts.signal?.aborted })
    }
    debug(`${method} ${inQuery ? apiPath.slice('/api2/json'.length) : path}${!inQuery && encoded ? ` [${Object.keys(params ?? {}).join(',')}]` : ''} -> ${res.statusCode} via ${node.name} (${Math.round(performance.now() - started)} ms)`)
    if (res.statusCode >= 200 && res.statusCode < 300) {
      try {
        const body = text ? JSON.parse(text) : { data: null }
        return { data: body.data as T, total: typeof body.total === 'number' ? body.total : undefined }
      } catch {
        throw new ApiError({ message: `${method} ${path}: ${where} answered ${res.statusCode} with a body that is not JSON`, status: res.statusCode, method, path })
      }
    }
    throw httpError(res.statusCode, res.statusText, text, method, path, where)
  }
}

function hostPort(node: Endpoint): string {
  return `${node.host.includes(':') && !node.host.startsWith('[') ? `[${node.host}]` : node.host}:${node.port}`
}

function defaultFailover(failed: Endpoint, reason: string, next: Endpoint): void {
  warn(`${reason}; trying ${next.name}`)
  void failed
}

function backoff(attempt: number, baseMs: number): number {
  const ceiling = Math.min(baseMs * 2 ** (attempt - 1), 5_000)
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2)) // "equal jitter"
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true })
  })
}

// PVE messages that mean "not there" or "busy" come back as 500s; give them the right exit code.
function exitCodeFor(status: number, message: string): ExitCode {
  if (/does not exist|no such (vm|node|task|resource|cluster node|storage)|not found/i.test(message)) return EXIT.notFound
  if (/is locked|can't lock file|got timeout|already exists|checksum mismatch/i.test(message)) return EXIT.conflict
  void status
  return EXIT.api
}

function httpError(status: number, statusText: string, text: string, method: string, path: string, where: string): ApiError {
  let body: any
  try {
    body = text ? JSON.parse(text) : undefined
  } catch {
    body = undefined
  }
  // PVE >= 8.3 sends `message`; older ones only the reason phrase (the first line of the message).
  const pveMessage = String(body?.message ?? '').trim() || statusText.trim() || `HTTP ${status}`
  const errors = body?.errors && typeof body.errors === 'object' ? (body.errors as Record<string, string>) : undefined
  const base = { status, statusText, method, path, errors }
  if (status === 401)
    return new ApiError({
      ...base,
      message: `${method} ${path}: ${where} rejected the API token (401 ${pveMessage})`,
      hint: 'check the token id and secret (pass entry or PVE_TOKEN_ID/PVE_TOKEN_SECRET); the token may be expired, deleted, or its user disabled',
    })
  if (status === 403)
    return new ApiError({
      ...base,
      message: `${method} ${path}: ${pveMessage} (403)`,
      hint: "the token lacks a privilege: grant the tool's role on '/' to the token (README \"Credentials\"); a privilege-separated token needs its own ACL",
    })
  if (TRANSIENT_STATUS.has(status))
    return new ApiError({ ...base, message: `${method} ${path}: ${where} could not reach the target node (${status} ${pveMessage})` })
  return new ApiError({ ...base, message: `${method} ${path}: ${pveMessage}`, exitCode: exitCodeFor(status, pveMessage) })
}

interface TransportContext {
  node: Endpoint
  where: string
  method: string
  path: string
  timeoutMs: number
  timedOut: boolean
  aborted: boolean
}

/** A precise, secret-free diagnosis of a failure below HTTP (DNS, refused, TLS, pin, timeout). */
export function transportError(err: unknown, ctx: TransportContext): ApiError {
  const e = err as any
  const code: string = ctx.timedOut ? 'ETIMEDOUT' : String(e?.code ?? e?.cause?.code ?? (e?.name === 'AbortError' ? 'ABORTED' : 'UNKNOWN'))
  const base = { status: 0, method: ctx.method, path: ctx.path, code }
  const at = ctx.where
  if (ctx.aborted && !ctx.timedOut) return new ApiError({ ...base, message: `${ctx.method} ${ctx.path}: cancelled`, exitCode: EXIT.aborted })
  // After the request left, a change may or may not have been applied: it is never re-sent blindly.
  const unknownOutcome = ctx.method === 'GET' ? undefined : 'the change may or may not have been applied: check (task pve:tasks, the VM) before retrying'
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return new ApiError({ ...base, message: `${at}: no response to ${ctx.method} ${ctx.path} within ${ctx.timeoutMs / 1000} s`, hint: unknownOutcome })
  if (code === 'UND_ERR_CONNECT_TIMEOUT')
    return new ApiError({ ...base, message: `${at}: connection timed out`, hint: 'is the node up, and port 8006 open in its firewall?' })
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new ApiError({ ...base, message: `${at}: cannot resolve host name '${ctx.node.host}' (DNS ${code})`, hint: 'check cluster.nodes[].host in cluster-config.yaml' })
  if (code === 'ECONNREFUSED')
    return new ApiError({ ...base, message: `${at}: connection refused`, hint: 'is pveproxy running on the node, and is the port right (cluster.nodes[].port, default 8006)?' })
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new ApiError({ ...base, message: `${at}: host unreachable (${code})` })
  if (code === 'ERR_PM_FINGERPRINT_MISMATCH')
    return new ApiError({
      ...base,
      message: `${at}: TLS certificate does not match the pinned fingerprint (got ${e.actual}); nothing was sent`,
      hint: 'if the node certificate was renewed, verify it on the node (pvenode cert info) and update tls.fingerprint',
    })
  if (TLS_CHAIN.has(code))
    return new ApiError({
      ...base,
      message: `${at}: TLS certificate is not signed by a trusted CA (${code}); nothing was sent`,
      hint: "set tls.ca_file to the cluster CA (a node's /etc/pve/pve-root-ca.pem) or pin tls.fingerprint",
    })
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return new ApiError({ ...base, message: `${at}: TLS certificate is not valid for '${ctx.node.host}' (${e?.reason ?? code}); nothing was sent`, hint: 'use the host name or address the certificate was issued for' })
  if (isTlsCode(code)) return new ApiError({ ...base, message: `${at}: TLS failure (${code}): ${e?.message ?? ''}`.trim() })
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE')
    return new ApiError({ ...base, message: `${at}: connection closed while sending ${ctx.method} ${ctx.path} (${code})`, hint: unknownOutcome })
  return new ApiError({ ...base, message: `${at}: ${ctx.method} ${ctx.path} failed: ${e?.message ?? String(err)}`, hint: unknownOutcome })
}
