// PVE's transport behaviour: envelope, status lines, check order, node proxying, auth.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:tls'
import { request } from 'node:https'
import { readFileSync } from 'node:fs'
import { apiClient, startSimulator, type Simulator } from '../helpers/sim.ts'

describe('simulator transport', () => {
  let sim: Simulator
  before(async () => {
    sim = await startSimulator({ inventory: 'sandbox' })
  })
  after(() => sim.stop())

  it('serves every node on its own loopback address with a certificate from its CA', async () => {
    assert.equal(new Set(sim.nodes.map((n) => n.host)).size, 3)
    for (const n of sim.nodes) {
      assert.match(n.host, /^127\.\d+\.\d+\.\d+$/)
      const fp = await new Promise<string>((resolve, reject) => {
        const s = connect({ host: n.host, port: n.port, ca: readFileSync(sim.caFile), servername: n.name }, () => {
          resolve(s.getPeerX509Certificate()!.fingerprint256)
          s.end()
        })
        s.on('error', reject)
      })
      assert.equal(fp, n.fingerprint)
    }
  })

  it('wraps results in {data} with PVE headers', async () => {
    const r = await apiClient(sim).raw('GET', '/version')
    assert.equal(r.status, 200)
    assert.equal(r.headers['server'], 'pve-api-daemon/3.0')
    assert.equal(r.headers['content-type'], 'application/json;charset=UTF-8')
    assert.deepEqual(Object.keys(r.body), ['data'])
    assert.match(r.body.data.repoid, /^[0-9a-f]{8,64}$/)
  })

  it('answers 401 with an empty body: "No ticket" without credentials, "Authentication failed!" with a bad secret', async () => {
    const noTicket = await apiClient(sim).raw('GET', '/version', undefined, { headers: { Authorization: '' } })
    assert.equal(noTicket.status, 401)
    assert.equal(noTicket.reason, 'No ticket')
    assert.equal(noTicket.text, '')
    const bad = await apiClient(sim, { token: { id: sim.rootToken.id, secret: 'wrong' } }).raw('GET', '/version')
    assert.equal(bad.status, 401)
    assert.equal(bad.reason, 'Authentication failed!')
    assert.equal(bad.text, '')
    const malformed = await apiClient(sim, { token: { id: 'root@pam', secret: sim.rootToken.secret } }).raw('GET', '/version')
    assert.equal(malformed.status, 401)
  })

  it('accepts the space form of the token header', async () => {
    const r = await apiClient(sim).raw('GET', '/version', undefined, { headers: { Authorization: `PVEAPIToken ${sim.rootToken.id}=${sim.rootToken.secret}` } })
    assert.equal(r.status, 200)
  })

  it('answers unknown routes with 501 and PVE\'s text', async () => {
    const r = await apiClient(sim, { negative: true }).raw('GET', '/nodes/pve1/qemu/100/foo')
    assert.equal(r.status, 501)
    assert.equal(r.reason, "Method 'GET /nodes/pve1/qemu/100/foo' not implemented")
    assert.deepEqual(r.body, { data: null, message: "Method 'GET /nodes/pve1/qemu/100/foo' not implemented" })
  })

  it('reports parameter errors as 400 with an errors map, the reason being the first message line', async () => {
    const r = await apiClient(sim, { negative: true }).raw('GET', '/nodes/pve1/qemu/abc/config')
    assert.equal(r.status, 400)
    assert.equal(r.reason, 'Parameter verification failed.')
    assert.deepEqual(r.body, { data: null, message: 'Parameter verification failed.\n', errors: { vmid: "type check ('integer') failed - got 'abc'" } })
  })

  it('reports missing VMs as 500 with the config file path', async () => {
    const r = await apiClient(sim).raw('GET', '/nodes/pve1/qemu/1001/config')
    assert.equal(r.status, 500)
    assert.equal(r.reason, "Configuration file 'nodes/pve1/qemu-server/1001.conf' does not exist")
    assert.equal(r.body.message, "Configuration file 'nodes/pve1/qemu-server/1001.conf' does not exist\n")
  })

  it('checks permissions before parameters (403 wins over 400)', async () => {
    const token = sim.control.createToken('auditor@pve', 'ro', { acl: [{ path: '/vms/1000', role: 'PVEAuditor' }] })
    const c = apiClient(sim, { token, negative: true })
    const r = await c.raw('POST', '/nodes/pve1/qemu/1000/status/start', { timeout: 'soon' })
    assert.equal(r.status, 403)
    assert.equal(r.reason, 'Permission check failed (/vms/1000, VM.PowerMgmt)')
    assert.equal(r.body.message, 'Permission check failed (/vms/1000, VM.PowerMgmt)\n')
  })

  it('rejects booleans other than 0/1 in form encoding but accepts JSON booleans', async () => {
    const c = apiClient(sim, { negative: true })
    const r = await c.raw('GET', '/nodes/pve1/qemu/1000/config', { current: 'true' })
    assert.equal(r.status, 400)
    assert.equal(r.body.errors.current, "type check ('boolean') failed - got 'true'")
    const j = await apiClient(sim).raw('PUT', '/nodes/pve1/qemu/1000/config', { onboot: true }, { json: true })
    assert.equal(j.status, 200)
  })

  it('rejects a body on GET and DELETE with 501', async () => {
    const n = sim.nodes[0]
    const status = await new Promise<[number, string]>((resolve, reject) => {
      const req = request({ host: n.host, port: n.port, method: 'DELETE', path: '/api2/json/nodes/pve1/qemu/1003', ca: readFileSync(sim.caFile), headers: { Authorization: `PVEAPIToken=${sim.rootToken.id}=${sim.rootToken.secret}`, 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': '7', 'X-Sim-Negative': '1' } }, (res) => {
        res.resume()
        resolve([res.statusCode!, res.statusMessage!])
      })
      req.on('error', reject)
      req.end('purge=1')
    })
    assert.deepEqual(status, [501, "Unexpected content for method 'DELETE'"])
    assert.ok(sim.control.vm(1003), 'nothing was deleted')
  })

  it('flags URI parameters repeated in the body with other values', async () => {
    const r = await apiClient(sim, { negative: true }).raw('PUT', '/nodes/pve1/qemu/1000/config', { vmid: '1001', onboot: '1' })
    assert.equal(r.status, 400)
    assert.equal(r.body.errors.vmid, 'duplicate parameter (already defined in URI) with conflicting values!')
  })

  it('proxies /nodes/{other}/ requests and answers 595 when that node is offline', async () => {
    const c = apiClient(sim, { node: 'pve1' })
    assert.equal((await c.get('/nodes/pve2/qemu/1001/status/current')).status, 'running')
    await sim.control.setNode('pve2', { mode: 'offline' })
    try {
      const r = await c.raw('GET', '/nodes/pve2/qemu/1001/status/current')
      assert.equal(r.status, 595)
      assert.match(r.reason, /^Errors during connection establishment, proxy handshake/)
      await assert.rejects(apiClient(sim, { node: 'pve2' }).raw('GET', '/version'))
      const nodes = await c.get('/nodes')
      assert.equal(nodes.find((n: { node: string }) => n.node === 'pve2').status, 'offline')
    } finally {
      await sim.control.setNode('pve2', { mode: 'online' })
    }
    assert.equal((await apiClient(sim, { node: 'pve2' }).raw('GET', '/version')).status, 200)
  })

  it('fails a lookup of a node that is not a cluster member after the permission check', async () => {
    const r = await apiClient(sim).raw('GET', '/nodes/pve9/qemu')
    assert.equal(r.status, 500)
    assert.equal(r.reason, "hostname lookup 'pve9' failed - failed to get address info for: pve9: Name or service not known")
  })

  it('addresses a VM only through the node that holds it', async () => {
    const r = await apiClient(sim).raw('GET', '/nodes/pve1/qemu/1002/status/current')
    assert.equal(r.status, 500)
    assert.equal(r.reason, "Configuration file 'nodes/pve1/qemu-server/1002.conf' does not exist")
  })

  it('returns nextid as a string and reserves nothing; ?vmid= validates', async () => {
    const c = apiClient(sim)
    const a = await c.raw('GET', '/cluster/nextid')
    assert.equal(typeof a.body.data, 'string')
    assert.equal(a.body.data, (await c.get('/cluster/nextid')))
    assert.equal(await c.get('/cluster/nextid', { vmid: 4242 }), '4242')
    const taken = await c.raw('GET', '/cluster/nextid', { vmid: 1000 })
    assert.equal(taken.status, 400)
    assert.deepEqual(taken.body.errors, { vmid: 'VM 1000 already exists' })
  })

  it('records requests without secrets', async () => {
    await apiClient(sim).put('/nodes/pve1/qemu/1000/config', { cipassword: 'hunter2' })
    const rec = sim.requests.find((r) => r.params.cipassword)
    assert.ok(rec)
    assert.equal(rec.params.cipassword, '**********')
    assert.ok(!JSON.stringify(sim.requests).includes('hunter2'))
    assert.ok(!JSON.stringify(sim.requests).includes(sim.rootToken.secret))
  })
})

describe('simulator: scheduled backup jobs', () => {
  let sim: Simulator
  before(async () => {
    sim = await startSimulator({ inventory: 'sandbox' })
  })
  after(() => sim.stop())

  it('lists, reads and deletes jobs as PVE does; an unknown id is a parameter error', async () => {
    const c = apiClient(sim)
    sim.control.addBackupJob({ id: 'backup-weekly', schedule: 'sun 02:00', vmid: '1003', storage: 'local', enabled: 0 })
    const jobs = await c.get('/cluster/backup')
    assert.deepEqual(jobs.map((j: { id: string }) => j.id), ['backup-5e6f0c2a-7d41', 'backup-weekly'])
    const nightly = await c.get('/cluster/backup/backup-5e6f0c2a-7d41')
    assert.equal(nightly.type, 'vzdump')
    assert.equal(nightly.pool, 'prod')
    assert.ok(nightly['next-run'] > Date.now() / 1000, 'a daily job has its next run ahead')
    assert.equal((await c.get('/cluster/backup/backup-weekly'))['next-run'], undefined, 'a disabled job has no next run')
    const missing = await c.raw('GET', '/cluster/backup/nope')
    assert.equal(missing.status, 400)
    assert.deepEqual(missing.body.errors, { id: "No such job 'nope'" })
    assert.equal(await c.delete('/cluster/backup/backup-weekly'), null)
    assert.equal((await c.raw('DELETE', '/cluster/backup/backup-weekly')).status, 400)
  })

  it('needs Sys.Audit on / to read jobs', async () => {
    const token = sim.control.createToken('auditor@pve', 'ro', { privsep: false, userAcl: [{ path: '/vms', role: 'PVEAuditor' }] })
    const r = await apiClient(sim, { token }).raw('GET', '/cluster/backup')
    assert.equal(r.status, 403)
    assert.equal(r.reason, 'Permission check failed (/, Sys.Audit)')
  })
})
