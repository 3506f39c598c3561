// HTTPS transport of the simulated nodes: one listener per node on its own loopback address,
// PVE's request processing order (auth → route → permission → proxy → parameters → handler),
// envelope, reason phrases, and the network-level faults (offline, black hole, slow, reset).
import https from 'node:https'
import net from 'node:net'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { PveError } from './clock.ts'
import { redactParams, type SimContext } from './context.ts'
import { SIM_ROOT_TOKEN, type Identity } from './auth.ts'
import type { ApiRequest, RouteSpec, Router } from './router.ts'
import { validateParams } from './validate/engine.ts'
import type { ParametersSchema } from './validate/schema.ts'
import { handleControl } from './control.ts'

export interface NodeListener {
  name: string
  host: string
  port: number
  mode: 'online' | 'offline' | 'blackhole'
  /** Simulated seconds added to every request answered by this node. */
  slowSeconds: number
  close(): Promise<void>
  setMode(mode: NodeListener['mode']): Promise<void>
}

const MAX_BODY = 512 * 1024

interface Reply { status: number; message?: string; errors?: Record<string, string>; data?: unknown; total?: number; empty?: boolean; reset?: boolean }

function firstLine(text: string) {
  return text.split('\n')[0].replace(/[^\x20-\x7e]/g, '?')
}

function send(res: ServerResponse, r: Reply) {
  if (r.reset) {
    res.socket?.destroy()
    return
  }
  const headers: Record<string, string> = {
    'Server': 'pve-api-daemon/3.0',
    'Cache-Control': 'max-age=0',
    'Pragma': 'no-cache',
    'Expires': new Date().toUTCString(),
  }
  if (r.status >= 400) headers.Connection = 'close'
  const reason = r.message !== undefined ? firstLine(r.message) : 'OK'
  if (r.empty) {
    res.writeHead(r.status, reason, headers)
    res.end()
    return
  }
  let body: Record<string, unknown>
  if (r.status >= 400) {
    body = { data: null, message: r.message }
    if (r.errors) body.errors = r.errors
  } else {
    body = { data: r.data ?? null }
    if (r.total !== undefined) body.total = r.total
  }
  const text = JSON.stringify(body)
  headers['Content-Type'] = 'application/json;charset=UTF-8'
  headers['Content-Length'] = String(Buffer.byteLength(text))
  res.writeHead(r.status, reason, headers)
  res.end(text)
}

function errorReply(e: unknown): Reply {
  if (e instanceof PveError) {
    // PVE's die texts end in "\n" (kept in the JSON message); "not implemented" texts do not.
    const message = e.status === 501 || e.status >= 595 ? e.message : `${e.message}\n`
    return { status: e.status, message, errors: e.errors, empty: e.status === 401 || e.status >= 595 }
  }
  const message = e instanceof Error ? e.message : String(e)
  return { status: 500, message: `${message}\n` }
}

function addParam(out: Record<string, unknown>, k: string, v: string) {
  if (out[k] === undefined) out[k] = v
  else out[k] = Array.isArray(out[k]) ? [...(out[k] as unknown[]), v] : [out[k], v]
}

function parseForm(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of new URLSearchParams(text)) addParam(out, k, v)
  return out
}

/** Minimal multipart/form-data parser for the storage upload endpoint. */
function parseMultipart(body: Buffer, contentType: string): { fields: Record<string, unknown>; file?: { filename: string; size: number } } {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType)
  if (!boundary) throw new PveError("upload 'Content-Type 'multipart/form-data' without boundary' not implemented", 506)
  const sep = Buffer.from(`--${boundary[1] ?? boundary[2]}`)
  const fields: Record<string, unknown> = {}
  let file: { filename: string; size: number } | undefined
  let start = body.indexOf(sep)
  while (start >= 0) {
    const next = body.indexOf(sep, start + sep.length)
    if (next < 0) break
    const part = body.subarray(start + sep.length + 2, next - 2)
    const headerEnd = part.indexOf('\r\n\r\n')
    const head = part.subarray(0, headerEnd).toString()
    const content = part.subarray(headerEnd + 4)
    const name = /name="([^"]*)"/.exec(head)?.[1]
    const filename = /filename="([^"]*)"/.exec(head)?.[1]
    if (name !== undefined) {
      if (filename !== undefined) {
        file = { filename, size: content.length }
        fields[name] = filename
      } else addParam(fields, name, content.toString())
    }
    start = next
  }
  return { fields, file }
}

function typed(values: Record<string, unknown>, schema: ParametersSchema): Record<string, any> {
  const out: Record<string, any> = {}
  for (const [k, v] of Object.entries(values)) {
    const t = schema.properties[k]?.type
    if (t === 'integer' || t === 'number') out[k] = Number(v)
    else if (t === 'boolean') out[k] = v === true || v === '1' || v === 1 ? 1 : 0
    else out[k] = Array.isArray(v) ? v.join(',') : typeof v === 'string' ? v : String(v)
  }
  return out
}

interface HandleArgs { sim: SimContext; router: Router; listener: NodeListener; listeners: Map<string, NodeListener> }

async function processRequest(args: HandleArgs, req: IncomingMessage, body: Buffer, rec: { params: Record<string, unknown>; authid?: string; schemaRejected?: boolean; validated?: boolean; fault?: string }): Promise<Reply> {
  const { sim, router, listener, listeners } = args
  const method = req.method ?? 'GET'
  if (!['GET', 'POST', 'PUT', 'DELETE'].includes(method)) throw new PveError(`method '${method}' not available`, 501)
  const url = new URL(req.url ?? '/', 'https://sim')
  const m = /^\/api2\/+([a-z][a-z0-9]+)(\/.*)?$/.exec(url.pathname)
  if (!m) throw new PveError('no such uri', 501)
  const path = (m[2] ?? '/').replace(/\/+$/, '') || '/'
  if (m[1] !== 'json') throw new PveError(`no formatter for uri ${path}, ${m[1]}`, 501)

  const fault = sim.faults.take(['http', 'reset', 'delay'], { method, path, node: listener.name })
  if (fault?.kind === 'reset') return { status: 0, reset: true }
  if (fault?.kind === 'http') {
    rec.fault = 'http'
    throw new PveError(fault.message, fault.status)
  }
  if (fault?.kind === 'delay') await sim.clock.sleep(fault.seconds)

  let id: Identity
  try {
    id = sim.access.authenticate(req.headers.authorization)
  } catch (e) {
    if (sim.opts.authFailureDelayMs) await new Promise((r) => setTimeout(r, sim.opts.authFailureDelayMs))
    throw e
  }
  // qm/pvesh/pveum on a node run in-process as root@pam; the SSH shims say so with the sim's root token.
  if (req.headers['x-sim-cli'] === 'root@pam' && id.authid === SIM_ROOT_TOKEN) id = { authid: 'root@pam', userid: 'root@pam' }
  rec.authid = id.authid

  const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
  if ((method === 'GET' || method === 'DELETE') && body.length) throw new PveError(`Unexpected content for method '${method}'`, 501)
  const found = router.match(method, path)
  const isUpload = found?.route.path === '/nodes/{node}/storage/{storage}/upload'
  if (body.length > MAX_BODY && !isUpload) throw new PveError('for data too large', 501)
  let bodyParams: Record<string, unknown> = {}
  let file: ApiRequest['file']
  if (body.length) {
    if (contentType === 'application/x-www-form-urlencoded') bodyParams = parseForm(body.toString())
    else if (contentType === 'application/json') {
      try { bodyParams = JSON.parse(body.toString()) } catch { throw new PveError('malformed JSON string', 400) }
      if (bodyParams === null || typeof bodyParams !== 'object' || Array.isArray(bodyParams)) throw new PveError('malformed JSON string', 400)
    } else if (contentType === 'multipart/form-data' && isUpload) {
      const mp = parseMultipart(body, req.headers['content-type']!)
      bodyParams = mp.fields
      file = mp.file
    } else throw new PveError(`upload 'Content-Type '${contentType}' not implemented`, 506)
  }
  const query = parseForm(url.search.slice(1))
  const merged: Record<string, unknown> = { ...bodyParams, ...query }
  delete merged._dc
  rec.params = redactParams(merged)
  if (!found) throw new PveError(`Method '${method} ${path}' not implemented`, 501)
  const { route, pathParams } = found
  const dupErrors: Record<string, string> = {}
  for (const [k, v] of Object.entries(pathParams)) {
    if (merged[k] !== undefined && String(merged[k]) !== v) dupErrors[k] = 'duplicate parameter (already defined in URI) with conflicting values!'
    merged[k] = v
  }
  if (Object.keys(dupErrors).length) throw new PveError('Parameter verification failed.', 400, dupErrors)
  if (route.allowtoken === 0 && id.tokenid) throw new PveError(`Permission check failed (URI '${path}' not available with API token, need proper ticket.\n)`, 403)
  if (route.permissions.check) sim.access.check(id, route.permissions.check, merged)

  let node = listener.name
  if (route.proxyto === 'node') {
    const target = String(merged.node)
    if (target !== 'localhost' && target !== listener.name) {
      const n = sim.state.nodes.get(target)
      if (!n) throw new PveError(`hostname lookup '${target}' failed - failed to get address info for: ${target}: Name or service not known`)
      const tl = listeners.get(target)
      if (!n.online || tl?.mode === 'offline') throw new PveError('Errors during connection establishment, proxy handshake: No route to host', 595)
      if (tl?.mode === 'blackhole') {
        await sim.clock.sleep(30)
        throw new PveError('Connection timed out', 596)
      }
      if (tl?.slowSeconds) await sim.clock.sleep(tl.slowSeconds)
      node = target
    }
  }

  rec.validated = true
  const errors = validateParams(merged, route.params)
  if (Object.keys(errors).length) {
    rec.schemaRejected = true
    throw new PveError('Parameter verification failed.', 400, errors)
  }
  const apiReq: ApiRequest = { params: typed(merged, route.params), raw: merged, id, node, sim, file }
  const result = await (route as RouteSpec).handler(apiReq)
  if (result && typeof result === 'object' && 'total' in (result as object) && 'data' in (result as object)) {
    const r = result as { data: unknown; total: number }
    return { status: 200, data: r.data, total: r.total }
  }
  return { status: 200, data: result }
}

export async function startListener(args: Omit<HandleArgs, 'listener'> & { name: string; host: string; key: string; cert: string }): Promise<NodeListener> {
  const { sim, name, host } = args
  const sockets = new Set<net.Socket>()
  const held = new Set<net.Socket>()
  const server = https.createServer({ key: args.key, cert: args.cert, keepAlive: true }, (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const started = performance.now()
      const body = Buffer.concat(chunks)
      const rec: { params: Record<string, unknown>; authid?: string; schemaRejected?: boolean; validated?: boolean; fault?: string } = { params: {} }
      const path = (req.url ?? '').split('?')[0]
      if (path.startsWith('/sim/')) {
        handleControl(sim, args.listeners, req, body).then((r) => send(res, r), (e) => send(res, errorReply(e)))
        return
      }
      const run = async () => {
        if (listener.slowSeconds) await sim.clock.sleep(listener.slowSeconds)
        return processRequest({ ...args, listener }, req, body, rec)
      }
      run().catch(errorReply).then((reply) => {
        send(res, reply)
        sim.record({
          t: new Date().toISOString(), node: name, method: req.method ?? '', path: path.replace(/^\/api2\/json/, ''),
          params: rec.params, status: reply.reset ? 0 : reply.status, ms: Math.round((performance.now() - started) * 100) / 100,
          authid: rec.authid, ...(rec.validated ? { validated: true } : {}), ...(rec.schemaRejected ? { schemaRejected: true } : {}),
          ...(req.headers['x-sim-negative'] ? { negative: true } : {}), ...(rec.fault ? { fault: rec.fault } : {}),
        })
      })
    })
  })
  server.on('tlsClientError', () => {})
  const front = net.createServer((socket) => {
    if (listener.mode === 'blackhole') {
      held.add(socket)
      socket.on('close', () => held.delete(socket))
      socket.on('error', () => {})
      return
    }
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    server.emit('connection', socket)
  })
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject)
    front.listen(0, host, () => resolve())
  })
  const port = (front.address() as net.AddressInfo).port
  const dropAll = () => {
    for (const s of [...sockets, ...held]) s.destroy()
  }
  const listener: NodeListener = {
    name, host, port, mode: 'online', slowSeconds: 0,
    async setMode(mode) {
      if (mode === listener.mode) return
      const wasListening = listener.mode !== 'offline'
      listener.mode = mode
      dropAll()
      if (mode === 'offline' && wasListening) await new Promise<void>((r) => front.close(() => r()))
      if (mode !== 'offline' && !wasListening) await new Promise<void>((resolve, reject) => {
        front.once('error', reject)
        front.listen(port, host, () => resolve())
      })
    },
    async close() {
      dropAll()
      if (listener.mode !== 'offline') await new Promise<void>((r) => front.close(() => r()))
      server.close()
    },
  }
  return listener
}
