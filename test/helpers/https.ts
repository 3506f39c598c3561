// A throwaway PKI (openssl) and a tiny HTTPS server on loopback that records what it receives,
// for testing the client's TLS policies and error handling without the simulator.
import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'

export interface TestPki {
  dir: string
  /** CA that signed `server` */
  caFile: string
  /** an unrelated CA */
  otherCaFile: string
  server: { key: string; cert: string; fingerprint: string }
  /** signed by the CA, but for another host name */
  wrongName: { key: string; cert: string }
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' })
}

function makeCa(dir: string, name: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`], dir)
}

function makeLeaf(dir: string, name: string, ca: string, san: string): void {
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\n`)
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir)
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`], dir)
}

let cached: TestPki | undefined

export function makePki(): TestPki {
  if (cached) return cached
  const dir = mkdtempSync(join(tmpdir(), 'pm-pki-'))
  makeCa(dir, 'ca')
  makeCa(dir, 'other-ca')
  makeLeaf(dir, 'server', 'ca', 'IP:127.0.0.1,DNS:localhost')
  makeLeaf(dir, 'wrong-name', 'ca', 'DNS:elsewhere.invalid')
  const read = (f: string) => readFileSync(join(dir, f), 'utf8')
  const cert = read('server.pem')
  cached = {
    dir,
    caFile: join(dir, 'ca.pem'),
    otherCaFile: join(dir, 'other-ca.pem'),
    server: { key: read('server.key'), cert, fingerprint: new X509Certificate(cert).fingerprint256 },
    wrongName: { key: read('wrong-name.key'), cert: read('wrong-name.pem') },
  }
  return cached
}

export interface RecordedRequest {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: string
}

export type Handler = (req: RecordedRequest, res: ServerResponse) => void

export interface TestServer {
  host: string
  port: number
  requests: RecordedRequest[]
  /** decrypted application bytes received on all connections (0 = not one request byte) */
  bytesReceived: () => number
  /** TLS handshakes completed */
  handshakes: () => number
  /** resolves once every client connection is closed (server-side events have all run) */
  settled: () => Promise<void>
  close: () => Promise<void>
}

/** Answers with `handler`, or PVE's envelope {"data": ...} of `json` by default. */
export async function startTestServer(tls: { key: string; cert: string }, handler: Handler = (_req, res) => sendJson(res, 200, { data: 'ok' })): Promise<TestServer> {
  const requests: RecordedRequest[] = []
  let bytes = 0
  let handshakes = 0
  let open = 0
  const server = createServer({ key: tls.key, cert: tls.cert })
  server.on('connection', (socket) => {
    open++
    socket.on('close', () => open--)
  })
  server.on('secureConnection', (socket: TLSSocket) => {
    handshakes++
    socket.on('data', (chunk: Buffer) => (bytes += chunk.length))
  })
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() }
      requests.push(recorded)
      handler(recorded, res)
    })
  })
  server.on('tlsClientError', () => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    requests,
    bytesReceived: () => bytes,
    handshakes: () => handshakes,
    settled: async () => {
      for (let waited = 0; open > 0 && waited < 3000; waited += 5) await new Promise((r) => setTimeout(r, 5))
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, reason?: string): void {
  const text = JSON.stringify(body)
  res.writeHead(status, reason ?? '', { 'content-type': 'application/json;charset=UTF-8', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/** SHA-256 of a PEM certificate in PVE's colon form. */
export function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256
}
