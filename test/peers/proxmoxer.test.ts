// proxmoxer (written against real PVE) drives a VM life cycle against the simulator. Where the two
// disagree the simulator is wrong: these assertions are what proxmoxer sees on real PVE.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { startSimulator } from '../sim/index.ts'
import { VENV_BIN, findTemplate, run, simApi } from './helpers.ts'

type Sim = Awaited<ReturnType<typeof startSimulator>>
let sim: Sim
let api: ReturnType<typeof simApi>

before(async () => {
  sim = await startSimulator({ inventory: 'sandbox', timeFactor: 0.01, seed: 7 })
  api = simApi(sim)
})
after(async () => {
  await api?.close()
  await sim?.stop()
})

test('clone, configure, start, snapshot, stop, delete: proxmoxer sees real PVE behaviour', async () => {
  const template = await findTemplate(api)
  const node = sim.nodes.find((n) => n.name === template.node)!
  const newid = 4711
  const r = await run(join(VENV_BIN, 'python'), [join(import.meta.dirname, 'proxmoxer_lifecycle.py')], {
    env: {
      PM_HOST: node.host,
      PM_PORT: String(node.port),
      PM_TOKEN_ID: sim.rootToken.id,
      PM_TOKEN_SECRET: sim.rootToken.secret,
      PM_CA_FILE: sim.caFile,
      PM_NODE: node.name,
      PM_TEMPLATE: String(template.vmid),
      PM_NEWID: String(newid),
    },
  })
  assert.equal(r.code, 0, `proxmoxer scenario failed:\n${r.stderr}\n${r.stdout}`)
  const steps = Object.fromEntries(r.stdout.trim().split('\n').map((l) => JSON.parse(l)).map((s) => [s.step, s]))

  assert.deepEqual(steps.untrusted, { step: 'untrusted', rejected: true, error: 'SSLError' })
  assert.match(steps.version.version, /^9\.1/)
  // /cluster/nextid is a JSON string on real PVE (Perl hash key), and proxmoxer passes it through.
  assert.equal(steps.nextid.type, 'str')

  assert.equal(steps.clone.exitstatus, 'OK')
  assert.equal(steps.clone.task.type, 'qmclone')
  assert.equal(steps.clone.task.id, String(template.vmid))
  assert.equal(steps.clone.task.user, sim.rootToken.id.split('!')[0])
  assert.equal(steps.resources.items.length, 1)
  assert.equal(steps.resources.items[0].node, node.name)
  assert.equal(steps.resources.items[0].template, 0)

  const config = steps.configure.config
  assert.equal(config.cores, 2)
  assert.equal(config.memory, '1536')
  assert.equal(config.tags, 'peer;proxmoxer')
  assert.equal(config.name, 'peer-proxmoxer')
  assert.match(config.digest, /^[0-9a-f]{40}$/)
  assert.equal(config.template, undefined)

  assert.deepEqual([steps.start.exitstatus, steps.start.status], ['OK', 'running'])
  assert.equal(steps['start-again'].exitstatus, `VM ${newid} already running`)
  assert.deepEqual(steps.snapshot, { step: 'snapshot', exitstatus: 'OK', names: ['current', 'peer1'] })
  assert.deepEqual([steps.stop.exitstatus, steps.stop.status], ['OK', 'stopped'])
  assert.deepEqual(steps.delsnapshot.names, ['current'])

  // Errors as proxmoxer reports them: the reason phrase carries PVE's message, `errors` the fields.
  assert.equal(steps['bad-param'].error.status_code, 400)
  assert.equal(steps['bad-param'].error.content, 'Parameter verification failed.')
  assert.deepEqual(steps['bad-param'].error.errors, { cores: "type check ('integer') failed - got 'many'" })
  assert.equal(steps['missing-vm'].error.status_code, 500)
  assert.equal(steps['missing-vm'].error.content, `Configuration file 'nodes/${node.name}/qemu-server/999999.conf' does not exist`)

  assert.equal(steps.delete.exitstatus, 'OK')
  assert.equal(steps.deleted.error.status_code, 500)
  const left = await api.call<{ vmid: number }[]>('GET', '/cluster/resources', { type: 'vm' })
  assert.ok(!left.some((v) => v.vmid === newid))
})
