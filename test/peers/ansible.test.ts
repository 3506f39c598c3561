// The community.proxmox Ansible modules run a VM life cycle against the simulator, with TLS
// verified against its CA. Changed/ok per task is what the modules report against real PVE.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { startSimulator } from '../sim/index.ts'
import { VENV_BIN, findTemplate, run, simApi } from './helpers.ts'

type Sim = Awaited<ReturnType<typeof startSimulator>>
let sim: Sim
let api: ReturnType<typeof simApi>

before(async () => {
  sim = await startSimulator({ inventory: 'sandbox', timeFactor: 0.01, seed: 11 })
  api = simApi(sim)
})
after(async () => {
  await api?.close()
  await sim?.stop()
})

interface TaskResult {
  name: string
  changed: boolean
  failed: boolean
  msg?: string
}

test('proxmox_kvm and proxmox_snap: clone, configure, start, snapshot, stop, delete, each idempotent', async () => {
  const template = await findTemplate(api)
  const node = sim.nodes.find((n) => n.name === template.node)!
  const newid = 4712
  const [user, tokenName] = sim.rootToken.id.split('!')
  const r = await run(
    join(VENV_BIN, 'ansible-playbook'),
    [
      '-i', 'localhost,',
      '-c', 'local',
      '-e', JSON.stringify({ node: node.name, template: template.vmid, template_name: template.name, newid, name: 'peer-ansible', ansible_python_interpreter: join(VENV_BIN, 'python') }),
      join(import.meta.dirname, 'ansible', 'vm-lifecycle.yml'),
    ],
    {
      env: {
        ANSIBLE_STDOUT_CALLBACK: 'ansible.posix.json',
        ANSIBLE_LOCALHOST_WARNING: 'false',
        ANSIBLE_INVENTORY_UNPARSED_WARNING: 'false',
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_HOME: join(sim.caFile, '..', 'ansible-home'),
        PROXMOX_HOST: node.host,
        PROXMOX_PORT: String(node.port),
        PROXMOX_USER: user,
        PROXMOX_TOKEN_ID: tokenName,
        PROXMOX_TOKEN_SECRET: sim.rootToken.secret,
        PROXMOX_VALIDATE_CERTS: 'true',
        REQUESTS_CA_BUNDLE: sim.caFile,
      },
    },
  )
  assert.ok(r.stdout.includes('{'), `ansible-playbook printed no JSON report (exit ${r.code}):\n${r.stderr}\n${r.stdout}`)
  const report = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')))
  const tasks: TaskResult[] = report.plays[0].tasks.map((t: any) => ({ name: t.task.name, ...t.hosts.localhost }))
  const failures = tasks.filter((t) => t.failed).map((t) => `${t.name}: ${t.msg}`)
  assert.deepEqual(failures, [], r.stderr)
  assert.equal(r.code, 0)
  assert.deepEqual(
    tasks.map((t) => [t.name, t.changed]),
    [
      ['Clone the template', true],
      ['Clone again (the target exists, no change)', false],
      ['Configure', true],
      ['Start', true],
      ['Start again (already running)', false],
      ['Snapshot', true],
      ['Snapshot again (exists)', false],
      ['Stop', true],
      ['Remove the snapshot', true],
      ['Delete', true],
      ['Delete again (gone)', false],
    ],
  )
  assert.match(tasks[4].msg ?? '', new RegExp(`VM ${newid} is already running`))
  // The module must not have turned TLS verification off: every request went through verified TLS,
  // and the secret never reached the output.
  assert.ok(!r.stdout.includes(sim.rootToken.secret) && !r.stderr.includes(sim.rootToken.secret))
  const left = await api.call<{ vmid: number }[]>('GET', '/cluster/resources', { type: 'vm' })
  assert.ok(!left.some((v) => v.vmid === newid))
})
