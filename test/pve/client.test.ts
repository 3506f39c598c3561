import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createServer as createTcpServer, type AddressInfo } from 'node:net'
import { PveClient, encodeParams, apiPath, type Endpoint } from '../../scripts/lib/pve/client.ts'
import { createAgent } from '../../scripts/lib/pve/tls.ts'
import { ApiError, EXIT } from '../../scripts/lib/errors.ts'
import type { TlsConfig } from '../../scripts/lib/config.ts'
import { makePki, startTestServer, sendJson, type TestServer, type Handler } from '../helpers/https.ts'

const TOKEN = { tokenId: 'ops@pve!cli', secret: 'c4n4ry00-0000-4000-8000-000000000001', source: 'test' }
const pki = makePki()

function client(tls: TlsConfig, nodes: Endpoint[], extra: Partial<ConstructorParameters<typeof PveClient>[0]> = {}) {
  return new PveClient({
    nodes,
    credentials: async () => TOKEN,
    dispatcher: createAgent(tls, { connectTimeoutMs: 2000 }),
    timeoutMs: 2000,
    retryBaseMs: 1,
    onFailover: () => {},
    ...extra,
  })
}

const node = (s: TestServer, name = 'pve1'): Endpoint => ({ name, host: s.host, port: s.port })

/** A loopback port with nothing listening. */
async function closedPort(): Promise<number> {
  const srv = createTcpServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const { port } = srv.address() as AddressInfo
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}

async function withServer(handler: Handler | undefined, fn: (s: TestServer) => Promise<void>, tls: { key: string; cert: string } = pki.server) {
  const s = await startTestServer(tls, handler)
  try {
    await fn(s)
  } finally {
    await s.close()
  }
}

describe('TLS policies', () => {
  test('ca_file: a chain signed by the CA is accepted and the token header is sent', () =>
    withServer(undefined, async (s) => {
      const c = client({ ca_file: pki.caFile }, [node(s)])
      assert.equal(await c.get('/version'), 'ok')
      assert.equal(s.requests[0].headers.authorization, `PVEAPIToken=${TOKEN.tokenId}=${TOKEN.secret}`)
      assert.equal(s.requests[0].url, '/api2/json/version')
      await c.close()
    }))

  test('ca_file: a certificate from another CA gets no request bytes', () =>
    withServer(undefined, async (s) => {
      const c = client({ ca_file: pki.otherCaFile }, [node(s)])
      await assert.rejects(c.get('/version'), (err: ApiError) => {
        assert.equal(err.status, 0)
        assert.match(err.message, /not signed by a trusted CA .*nothing was sent/)
        assert.match(err.hint ?? '', /pve-root-ca\.pem/)
        return true
      })
      await s.settled()
      assert.equal(s.bytesReceived(), 0)
      assert.equal(s.requests.length, 0)
      await c.close()
    }))

  test('ca_file: a certificate for another host name gets no request bytes', () =>
    withServer(
      undefined,
      async (s) => {
        const c = client({ ca_file: pki.caFile }, [node(s)])
        await assert.rejects(c.get('/version'), /not valid for '127\.0\.0\.1'/)
        await s.settled()
        assert.equal(s.bytesReceived(), 0)
        assert.equal(s.requests.length, 0)
        await c.close()
      },
      pki.wrongName,
    ))

  test('fingerprint: the pinned certificate is accepted (self-signed chains are fine)', () =>
    withServer(undefined, async (s) => {
      const c = client({ fingerprint: [pki.server.fingerprint] }, [node(s)])
      assert.equal(await c.get('/version'), 'ok')
      await c.close()
    }))

  test('fingerprint: a wrong pin completes the handshake but sends no request byte', () =>
    withServer(undefined, async (s) => {
      const wrong = pki.server.fingerprint.replace(/^../, pki.server.fingerprint.startsWith('00') ? '11' : '00')
      const c = client({ fingerprint: wrong }, [node(s)])
      await assert.rejects(c.get('/version'), (err: ApiError) => {
        assert.equal(err.code, 'ERR_PM_FINGERPRINT_MISMATCH')
        assert.ok(err.message.includes(pki.server.fingerprint), 'names the fingerprint it saw')
        return true
      })
      // a POST must not leak either, and no retry loop of handshakes follows a pin failure
      await assert.rejects(c.post('/nodes/pve1/qemu', { vmid: 100 }), /pinned fingerprint/)
      await s.settled()
      assert.equal(s.handshakes(), 2, 'both handshakes completed, so the byte count below covers them')
      assert.equal(s.bytesReceived(), 0)
      assert.equal(s.requests.length, 0)
      await c.close()
    }))

  test('fingerprint: every connection is checked again (no TLS session resumption)', () =>
    withServer(
      (_r, res) => {
        res.setHeader('connection', 'close')
        sendJson(res, 200, { data: 1 })
      },
      async (s) => {
        const c = client({ fingerprint: pki.server.fingerprint }, [node(s)])
        await c.get('/a')
        await c.get('/b')
        assert.equal(s.handshakes(), 2)
        await c.close()
      },
    ))

  test('insecure: accepted with a loud warning', () =>
    withServer(undefined, async (s) => {
      const writes: string[] = []
      const orig = process.stderr.write.bind(process.stderr)
      process.stderr.write = ((chunk: string) => (writes.push(String(chunk)), true)) as typeof process.stderr.write
      let c: PveClient
      try {
        c = client({ insecure: true }, [node(s)])
      } finally {
        process.stderr.write = orig
      }
      assert.match(writes.join(''), /TLS verification is DISABLED/)
      assert.equal(await c.get('/version'), 'ok')
      await c.close()
    }))
})

describe('requests and errors', () => {
  test('GET/DELETE params go in the query, POST/PUT as a form; booleans are 1/0, undefined dropped', () =>
    withServer(undefined, async (s) => {
      const c = client({ ca_file: pki.caFile }, [node(s)])
      await c.get('/cluster/resources', { type: 'vm', full: true, skip: undefined })
      await c.delete(apiPath`/nodes/${'pve1'}/qemu/${100}`, { purge: true, 'destroy-unreferenced-disks': false })
      await c.post('/nodes/pve1/qemu/100/clone', { newid: 101, name: 'a b&c', full: false, description: undefined, tags: ['x', 'y'] })
      await c.put('/nodes/pve1/qemu/100/config', { cores: 4 })
      const [get, del, post, put] = s.requests
      assert.equal(get.url, '/api2/json/cluster/resources?type=vm&full=1')
      assert.equal(get.body, '')
      assert.equal(del.url, '/api2/json/nodes/pve1/qemu/100?purge=1&destroy-unreferenced-disks=0')
      assert.equal(del.body, '')
      assert.equal(post.url, '/api2/json/nodes/pve1/qemu/100/clone')
      assert.equal(post.headers['content-type'], 'application/x-www-form-urlencoded')
      assert.equal(post.body, 'newid=101&name=a%20b%26c&full=0&tags=x&tags=y')
      assert.equal(put.method, 'PUT')
      assert.equal(put.body, 'cores=4')
      await c.close()
    }))

  test('apiPath encodes each segment (UPIDs, storage volumes)', () => {
    assert.equal(apiPath`/nodes/${'pve1'}/tasks/${'UPID:pve1:0000:00:00:qmstart:100:a@pam!t:'}/status`, '/nodes/pve1/tasks/UPID%3Apve1%3A0000%3A00%3A00%3Aqmstart%3A100%3Aa%40pam!t%3A/status')
    assert.equal(encodeParams({ a: 'x y', b: null }), 'a=x%20y')
  })

  test("PVE's 400 envelope becomes an ApiError with the per-parameter errors", () =>
    withServer(
      (_r, res) => sendJson(res, 400, { data: null, message: 'Parameter verification failed.\n', errors: { vmid: 'value must have a minimum value of 100' } }, 'Parameter verification failed.'),
      async (s) => {
        const c = client({ ca_file: pki.caFile }, [node(s)])
        await assert.rejects(c.post('/nodes/pve1/qemu', { vmid: 5 }), (err: ApiError) => {
          assert.equal(err.status, 400)
          assert.equal(err.message, 'POST /nodes/pve1/qemu: Parameter verification failed.')
          assert.deepEqual(err.errors, { vmid: 'value must have a minimum value of 100' })
          assert.equal(err.exitCode, EXIT.api)
          return true
        })
        await c.close()
      },
    ))

  test('older PVE: the message is only in the reason phrase; "does not exist" maps to not-found', () =>
    withServer(
      (_r, res) => sendJson(res, 500, { data: null }, "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist"),
      async (s) => {
        const c = client({ ca_file: pki.caFile }, [node(s)])
        await assert.rejects(c.get('/nodes/pve1/qemu/999/config'), (err: ApiError) => {
          assert.equal(err.message, "GET /nodes/pve1/qemu/999/config: Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist")
          assert.equal(err.exitCode, EXIT.notFound)
          return true
        })
        assert.equal(s.requests.length, 1, 'a 500 is not retried')
        await c.close()
      },
    ))

  test('a locked VM maps to the conflict exit code', () =>
    withServer(
      (_r, res) => sendJson(res, 500, { data: null, message: 'VM is locked (clone)\n' }, 'VM is locked (clone)'),
      async (s) => {
        const c = client({ ca_file: pki.caFile }, [node(s)])
        await assert.rejects(c.post('/nodes/pve1/qemu/100/status/start'), (err: ApiError) => err.exitCode === EXIT.conflict)
        await c.close()
      },
    ))

  test('401: a clear message and hint, never the token', () =>
    withServer(
      (_r, res) => {
        res.writeHead(401, 'Authentication failed!')
        res.end()
      },
      async (s) => {
        const c = client({ ca_file: pki.caFile }, [node(s)])
        await assert.rejects(c.get('/version'), (err: ApiError) => {
          assert.equal(err.status, 401)
          assert.match(err.message, /rejected the API token \(401 Authentication failed!\)/)
          assert.match(err.hint ?? '', /token id and secret/)
          const everything = JSON.stringify({ m: err.message, h: err.hint, s: err.stack, e: err.errors })
          assert.ok(!everything.includes(TOKEN.secret))
          assert.ok(!everything.includes('PVEAPIToken'))
          return true
        })
        assert.equal(s.requests.length, 1, 'a 401 is not retried')
        await c.close()
      },
    ))

  test("403: PVE's permission message and a privilege hint", () =>
    withServer(
      (_r, res) => sendJson(res, 403, { data: null, message: 'Permission check failed (/vms/100, VM.Audit)\n' }, 'Permission check failed (/vms/100, VM.Audit)'),
      async (s) => {
        const c = client({ ca_file: pki.caFile }, [node(s)])
        await assert.rejects(c.get('/nodes/pve1/qemu/100/config'), (err: ApiError) => {
          assert.equal(err.message, 'GET /nodes/pve1/qemu/100/config: Permission check failed (/vms/100, VM.Audit) (403)')
          assert.match(err.hint ?? '', /privilege/)
          return true
        })
        await c.close()
      },
    ))
})

describe('retries, deadlines, failover', () => {
  test('595 on a GET is retried with backoff until it succeeds', () => {
    let calls = 0
    return withServer(
      (_r, res) => (++calls < 3 ? sendJson(res, 595, { data: null }, 'Connection refused') : sendJson(res, 200, { data: [1, 2] })),
      async (s) => {
        const c = client({ ca_file: pki.caFile }, [node(s)])
        assert.deepEqual(await c.get('/cluster/resources'), [1, 2])
        assert.equal(s.requests.length, 3)
        await c.close()
      },
    )
  })

  test('595 on a POST is reported, never re-sent', () =>
    withServer(
      (_r, res) => sendJson(res, 595, { data: null }, 'Connection refused'),
      async (s) => {
        const c = client({ ca_file: pki.caFile }, [node(s)])
        await assert.rejects(c.post('/nodes/pve2/qemu/100/status/start'), (err: ApiError) => {
          assert.equal(err.status, 595)
          assert.match(err.message, /could not reach the target node \(595 Connection refused\)/)
          return true
        })
        assert.equal(s.requests.length, 1)
        await c.close()
      },
    ))

  test('GET retries stop after the configured attempts', () =>
    withServer(
      (_r, res) => sendJson(res, 596, { data: null }, 'Connection timed out'),
      async (s) => {
        const c = client({ ca_file: pki.caFile }, [node(s)], { retries: 2 })
        await assert.rejects(c.get('/nodes/pve2/status'), (err: ApiError) => err.status === 596)
        assert.equal(s.requests.length, 3)
        await c.close()
      },
    ))

  test('a request that exceeds its deadline fails; GETs are retried, POSTs are not', () =>
    withServer(
      () => {}, // never answers
      async (s) => {
        // Long enough for a TLS handshake on a loaded machine: the server must see each request.
        const c = client({ ca_file: pki.caFile }, [node(s)], { retries: 1, timeoutMs: 1500 })
        await assert.rejects(c.get('/version'), (err: ApiError) => {
          assert.equal(err.code, 'ETIMEDOUT')
          assert.match(err.message, /no response to GET \/version within 1\.5 s/)
          return true
        })
        assert.equal(s.requests.length, 2)
        await assert.rejects(c.post('/nodes/pve1/qemu', { vmid: 100 }), /no response to POST/)
        assert.equal(s.requests.length, 3, 'the POST was sent exactly once')
        await c.close()
      },
    ))

  test('a connection reset: a GET is retried, a POST is reported and not re-sent', () => {
    let calls = 0
    return withServer(
      (req, res) => {
        // the first GET and every POST lose their connection mid-request
        if (req.method === 'POST' || ++calls === 1) return res.socket?.destroy()
        sendJson(res, 200, { data: 'ok' })
      },
      async (s) => {
        const c = client({ ca_file: pki.caFile }, [node(s)])
        assert.equal(await c.get('/version'), 'ok')
        assert.equal(s.requests.length, 2)
        await assert.rejects(c.post('/nodes/pve1/qemu/100/status/start'), (err: ApiError) => {
          assert.equal(err.status, 0)
          assert.match(err.message, /connection closed while sending POST \/nodes\/pve1\/qemu\/100\/status\/start/)
          assert.match(err.hint ?? '', /may or may not have been applied/)
          return true
        })
        assert.equal(s.requests.filter((r) => r.method === 'POST').length, 1)
        await c.close()
      },
    )
  })

  test('fails over to the next node when one refuses connections, and stays there', () =>
    withServer(undefined, async (s) => {
      const failovers: string[] = []
      const down: Endpoint = { name: 'pve1', host: '127.0.0.1', port: await closedPort() }
      const c = client({ ca_file: pki.caFile }, [down, node(s, 'pve2')], { onFailover: (failed, reason, next) => failovers.push(`${failed.name}->${next.name}: ${reason}`) })
      assert.equal(await c.get('/version'), 'ok')
      assert.equal(await c.post('/nodes/pve2/qemu/100/status/start'), 'ok')
      assert.equal(c.activeNode.name, 'pve2')
      assert.equal(failovers.length, 1, 'the dead node is not tried again')
      assert.match(failovers[0], /^pve1->pve2: pve1 \(127\.0\.0\.1:\d+\): connection refused$/)
      await c.close()
    }))

  test('a POST also fails over when the connection was refused (nothing was sent)', () =>
    withServer(undefined, async (s) => {
      const down: Endpoint = { name: 'pve1', host: '127.0.0.1', port: await closedPort() }
      const c = client({ ca_file: pki.caFile }, [down, node(s, 'pve2')])
      assert.equal(await c.post('/nodes/pve2/qemu/100/status/start'), 'ok')
      assert.equal(s.requests.length, 1)
      await c.close()
    }))

  test('all nodes down: one error listing each node', async () => {
    const nodes = [
      { name: 'pve1', host: '127.0.0.1', port: await closedPort() },
      { name: 'pve2', host: '127.0.0.1', port: await closedPort() },
    ]
    const c = client({ ca_file: pki.caFile }, nodes, { retries: 0 })
    await assert.rejects(c.get('/version'), (err: ApiError) => {
      assert.match(err.message, /no cluster node answered GET \/version:\n {2}pve1 .*connection refused\n {2}pve2 .*connection refused/)
      assert.equal(err.exitCode, EXIT.api)
      return true
    })
    await c.close()
  })

  test('DNS failure is diagnosed as such', async () => {
    const c = client({ ca_file: pki.caFile }, [{ name: 'pve1', host: 'pve1.invalid', port: 8006 }], { retries: 0 })
    await assert.rejects(c.get('/version'), (err: ApiError) => {
      assert.match(err.message, /cannot resolve host name 'pve1\.invalid' \(DNS (ENOTFOUND|EAI_AGAIN)\)/)
      return true
    })
    await c.close()
  })

  test('credentials are resolved once, on the first request', () =>
    withServer(undefined, async (s) => {
      let resolved = 0
      const c = client({ ca_file: pki.caFile }, [node(s)], { credentials: async () => (resolved++, TOKEN) })
      assert.equal(resolved, 0)
      await c.get('/a')
      await c.get('/b')
      assert.equal(resolved, 1)
      await c.close()
    }))
})
