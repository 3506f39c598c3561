// Node maintenance with HA-managed guests, over real sshds whose `ha-manager` acts on the
// simulator: HA guests leave through PVE's HA node maintenance (never a hand migration), the
// others are migrated, and `return` ends the maintenance and brings everything back.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { apiClient, startSimulator, type Simulator } from '../helpers/sim.ts'
import { runScript } from '../helpers/run.ts'
import { startSshd, type SshServer } from '../sim/ssh/sshd.ts'

let sim: Simulator
let sshds: SshServer[] = []
let env: Record<string, string>
let dir: string
const HA_GUESTS = [3000, 3001]

before(async () => {
  sim = await startSimulator({
    timeFactor: 0.002,
    inventory: {
      nodes: 3,
      vms: [
        ...Array.from({ length: 5 }, (_, i) => ({ vmid: 3000 + i, node: 'pve1', name: `svc-${i}`, running: true, memory: 2048, cores: 2, disks: [8], storage: 'ceph', tags: 'pm-managed' })),
        { vmid: 3100, node: 'pve2', name: 'elsewhere', running: true, memory: 2048, disks: [8] },
      ],
    },
  })
  const api = apiClient(sim)
  for (const vmid of HA_GUESTS) await api.post('/cluster/ha/resources', { sid: `vm:${vmid}`, state: 'started' })
  dir = await mkdtemp(join(tmpdir(), 'pm-ha-'))
  await chmod(dir, 0o700)
  // apply reaches ha-manager through another node, return through the evacuated one: an sshd for each,
  // named after the node's host (what the tool dials), in one ssh_config
  sshds = await Promise.all(
    sim.nodes.slice(0, 2).map((n) => startSshd({ target: { node: n.name, url: n.url, caFile: sim.caFile, token: sim.rootToken }, alias: n.host })),
  )
  const sshConfig = join(dir, 'ssh_config')
  await writeFile(sshConfig, (await Promise.all(sshds.map((s) => readFile(s.configFile, 'utf8')))).join('\n'), { mode: 0o600 })
  const config = sim.writeClusterConfig(join(dir, 'cluster-config.yaml'), { credentials: { ssh_user: userInfo().username } })
  env = { ...sim.env(), PVE_CONFIG: config, PM_STATE_DIR: join(dir, 'state'), PM_SSH_CONFIG: sshConfig }
})
after(async () => {
  for (const s of sshds) await s.stop()
  await sim?.stop()
})

const where = () => new Map(sim.control.state().vms.map((v) => [v.vmid, v.node]))
const inMaintenance = (node: string) => sim.control.state().nodes.find((n) => n.name === node)?.maintenance
const migratePosts = () => sim.requests.filter((r) => r.method === 'POST' && /\/qemu\/\d+\/migrate$/.test(r.path)).map((r) => Number(/qemu\/(\d+)\//.exec(r.path)![1]))
const run = (script: string, args: string[]) => runScript(`scripts/${script}`, args, { env })

test('HA guests leave through HA node maintenance, the rest by migration; return brings every guest back', async () => {
  const start = where()
  const planFile = join(dir, 'plan.yaml')
  let r = await run('node/evacuate.ts', ['--node', 'pve1', '--plan-file', planFile])
  assert.equal(r.code, 0, r.stderr)
  const plan = parse(await readFile(planFile, 'utf8'))
  assert.equal(plan.ha.maintenance, true)
  assert.deepEqual(plan.ha.guests.map((g: { vmid: number }) => g.vmid).sort(), HA_GUESTS)
  assert.deepEqual(plan.moves.map((m: { vmid: number }) => m.vmid).sort(), [3002, 3003, 3004], 'HA guests are not hand-migrated')

  r = await run('node/apply.ts', ['--plan', planFile, '--yes'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /enabling HA node maintenance on pve1/)
  assert.equal(inMaintenance('pve1'), true)
  const during = where()
  for (const vmid of [...HA_GUESTS, 3002, 3003, 3004]) assert.notEqual(during.get(vmid), 'pve1', `VM ${vmid} left pve1`)
  assert.deepEqual(migratePosts().sort(), [3002, 3003, 3004], 'only the non-HA guests were migrated by hand')

  r = await run('node/return.ts', ['--node', 'pve1', '--yes'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /disabling HA node maintenance on pve1/)
  assert.equal(inMaintenance('pve1'), false)
  assert.deepEqual(where(), start, 'every guest is where it started')
  assert.ok(migratePosts().every((vmid) => !HA_GUESTS.includes(vmid)), 'HA brought its guests back itself')
})

test('pve:vm:migrate of an HA guest becomes an HA request and waits until the guest has arrived', async () => {
  const r = await run('vm/migrate.ts', ['--vmid', '3000', '--target', 'pve3', '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(JSON.parse(r.stdout).mode, 'ha')
  assert.equal(where().get(3000), 'pve3', 'on the target when the command returns')
  assert.ok(sim.control.state().tasks.some((t) => /:hamigrate:3000:/.test(t.upid)), 'PVE ran it as an HA migration')
})
