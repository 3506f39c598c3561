// talos-provision-vms.yaml and reboot-vms.yaml, run for real (pinned Ansible, community.proxmox,
// proxmoxer) through scripts/ansible/playbook.ts against the simulator with its CA: the VMs the
// profile describes appear where the inventory placed them, owned and configured; a second run
// changes nothing; the rolling reboot goes one VM at a time and waits for each to come back.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { apiClient, startSimulator, type ApiClient, type Simulator } from '../helpers/sim.ts'
import { repoRoot, runScript } from '../helpers/run.ts'

let sim: Simulator
let api: ApiClient
let dir: string
let env: Record<string, string>
const PROFILE = 'talos-lab'
const VMS = [
  { name: 'lab-cp01', vmid: 1201, role: 'controlplane', ip: '127.0.90.11' },
  { name: 'lab-cp02', vmid: 1202, role: 'controlplane', ip: '127.0.90.12' },
  { name: 'lab-w01', vmid: 1211, role: 'worker', ip: '127.0.90.21' },
]

before(async () => {
  sim = await startSimulator({ inventory: 'sandbox', timeFactor: 0.005, seed: 8 })
  api = apiClient(sim)
  dir = mkdtempSync(join(tmpdir(), 'pm-ansible-vms-'))
  sim.writeClusterConfig(join(dir, 'cluster-config.yaml'))
  // The staging profile, pointed at loopback addresses and shrunk to 2 control planes + 1 worker.
  const profile = parse(readFileSync(join(repoRoot, 'clusters/talos-staging.yaml'), 'utf8'))
  profile.name = PROFILE
  profile.template = 101
  profile.talos.vip.ip = '127.0.90.10'
  profile.network = { ...profile.network, api_endpoint: '127.0.90.10', gateway: '127.0.90.1', dns: ['127.0.90.1'] }
  profile.nodes.controlplane = { ...profile.nodes.controlplane, count: 2, memory: 2048, disk: '20G', name_prefix: 'lab-cp', start_vmid: 1201, assignments: VMS.filter((v) => v.role === 'controlplane').map(({ name, vmid, ip }) => ({ name, vmid, ip })) }
  profile.nodes.workers = { ...profile.nodes.workers, count: 1, memory: 2048, disk: '20G', name_prefix: 'lab-w', start_vmid: 1211, assignments: VMS.filter((v) => v.role === 'worker').map(({ name, vmid, ip }) => ({ name, vmid, ip })) }
  mkdirSync(join(dir, 'clusters'))
  writeFileSync(join(dir, 'clusters', `${PROFILE}.yaml`), stringify(profile))
  env = sim.env({
    PM_CLUSTERS_DIR: join(dir, 'clusters'),
    PM_STATE_DIR: join(dir, '.state'),
    ANSIBLE_HOME: join(dir, 'ansible-home'),
    ANSIBLE_LOCAL_TEMP: join(dir, 'ansible-tmp'),
    ANSIBLE_STDOUT_CALLBACK: 'ansible.posix.json',
    ANSIBLE_NOCOLOR: '1',
  })
})

after(async () => {
  await sim?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

interface TaskOutcome {
  task: string
  host: string
  changed: boolean
  failed: boolean
  skipped: boolean
  msg?: string
}

function outcomes(stdout: string): TaskOutcome[] {
  const start = stdout.search(/^\{/m)
  assert.ok(start >= 0, `no JSON report in:\n${stdout}`)
  const report = JSON.parse(stdout.slice(start))
  return report.plays.flatMap((p: any) =>
    p.tasks.flatMap((t: any) =>
      Object.entries(t.hosts).map(([host, r]: [string, any]) => ({ task: t.task.name, host, changed: Boolean(r.changed), failed: Boolean(r.failed), skipped: Boolean(r.skipped), msg: r.msg })),
    ),
  )
}

const playbook = (args: string[]) => runScript('scripts/ansible/playbook.ts', args, { env, timeoutMs: 300_000 })

async function vm(vmid: number) {
  const rows: { vmid: number; node: string; status: string }[] = await api.get('/cluster/resources', { type: 'vm' })
  const row = rows.find((r) => r.vmid === vmid)
  if (!row) return undefined
  const config = await api.get(`/nodes/${row.node}/qemu/${vmid}/config`)
  const status = await api.get(`/nodes/${row.node}/qemu/${vmid}/status/current`)
  return { node: row.node, status: row.status, pid: status.pid as number | undefined, config }
}

test('talos-provision-vms: clones, places, configures and starts the profile VMs; a second run changes nothing', async () => {
  const first = await playbook(['--playbook', 'talos-provision-vms', '--profile', PROFILE])
  const failed = outcomes(first.stdout).filter((o) => o.failed)
  assert.deepEqual(failed, [], first.stderr)
  assert.equal(first.code, 0, first.stderr)

  const state = JSON.parse(readFileSync(join(dir, '.state', PROFILE, 'state.json'), 'utf8'))
  const nodes = new Set<string>()
  for (const want of VMS) {
    const got = await vm(want.vmid)
    assert.ok(got, `VM ${want.vmid} was not created`)
    nodes.add(got.node)
    assert.equal(got.status, 'running')
    assert.equal(got.config.name, want.name)
    assert.equal(String(got.config.memory), '2048')
    assert.equal(String(got.config.cores), '4')
    assert.match(got.config.description, new RegExp(`^pm-owner: ${PROFILE}/${state.clusterId}$`, 'm'))
    const tags = String(got.config.tags).split(';')
    assert.ok(tags.includes('pm-managed') && tags.includes(want.role === 'worker' ? 'worker' : 'controlplane'), `tags ${got.config.tags}`)
    assert.ok(!tags.includes('template'), 'the template tag the clone inherited is gone')
    assert.equal(got.config.ipconfig0, `ip=${want.ip}/24,gw=127.0.90.1`)
    assert.equal(got.config.nameserver, '127.0.90.1')
    assert.match(got.config.scsi0, /size=20G/)
  }
  // placement "spread": the two control planes on different hypervisors
  assert.notEqual((await vm(1201))!.node, (await vm(1202))!.node)

  const second = await playbook(['--playbook', 'talos-provision-vms', '--profile', PROFILE])
  assert.equal(second.code, 0, second.stderr)
  const changed = outcomes(second.stdout).filter((o) => o.changed).map((o) => `${o.host}: ${o.task}`)
  assert.deepEqual(changed, [], 'the second run changes nothing')
  for (const r of [first, second]) assert.ok(!(r.stdout + r.stderr).includes(sim.rootToken.secret), 'the token never reaches the output')
})

test('talos-provision-vms refuses a VMID held by a VM the cluster does not own, and leaves it alone', async () => {
  // Someone else's VM at the worker's VMID (after a teardown, say).
  const worker = await vm(1211)
  await api.wait(await api.post(`/nodes/${worker!.node}/qemu/1211/status/stop`))
  await api.put(`/nodes/${worker!.node}/qemu/1211/config`, { description: 'not ours', delete: 'tags' })
  const before = await vm(1211)
  // Verbose: module arguments and connection details are printed, the token still is not.
  const r = await playbook(['--playbook', 'talos-provision-vms', '--profile', PROFILE, '--', '-vvv'])
  assert.notEqual(r.code, 0)
  assert.ok(!(r.stdout + r.stderr).includes(sim.rootToken.secret), 'the token never reaches the output, even with -vvv')
  const refusal = outcomes(r.stdout).find((o) => o.failed)
  assert.equal(refusal?.host, 'lab-w01')
  assert.match(refusal?.msg ?? '', /VMID 1211 must be free or carry 'pm-owner: talos-lab\//)
  const afterRun = await vm(1211)
  assert.deepEqual(afterRun, before, 'the foreign VM is untouched')
  assert.equal(afterRun!.status, 'stopped')
})

test('reboot-vms: control planes one at a time, each back (new QEMU process, agent answering) before the next', async () => {
  const before = new Map(await Promise.all([1201, 1202].map(async (id) => [id, (await vm(id))!.pid] as const)))
  const from = sim.requests.length
  const r = await playbook(['--playbook', 'reboot-vms', '--profile', PROFILE, '--group', 'controlplane', '--yes', '--', '-e', 'reboot_vms_wait_delay=1'])
  assert.deepEqual(outcomes(r.stdout).filter((o) => o.failed), [], r.stderr)
  assert.equal(r.code, 0, r.stderr)
  for (const id of [1201, 1202]) {
    const now = await vm(id)
    assert.equal(now!.status, 'running')
    assert.notEqual(now!.pid, before.get(id), `VM ${id} runs in a new QEMU process`)
  }
  // Order on the wire: reboot 1201, the agent of 1201 answers, only then reboot 1202. No worker touched.
  const events = sim.requests.slice(from).flatMap((q) => {
    const m = /\/qemu\/(\d+)\/(status\/reboot|agent\/network-get-interfaces)$/.exec(q.path)
    return m && q.status === 200 ? [`${m[2] === 'status/reboot' ? 'reboot' : 'agent'} ${m[1]}`] : []
  })
  const firstAgent = (id: number, after: number) => events.findIndex((e, i) => i > after && e === `agent ${id}`)
  const r1 = events.indexOf('reboot 1201')
  const r2 = events.indexOf('reboot 1202')
  assert.ok(r1 >= 0 && r2 > r1, events.join(', '))
  const back1 = firstAgent(1201, r1)
  assert.ok(back1 > r1 && back1 < r2, `1201 was back before 1202 was rebooted: ${events.join(', ')}`)
  assert.ok(firstAgent(1202, r2) > r2)
  assert.ok(!events.some((e) => e.endsWith(' 1211')), 'the worker was not rebooted')
})

test('reboot-vms without a terminal and without --yes refuses and reboots nothing', async () => {
  const from = sim.requests.length
  const r = await playbook(['--playbook', 'reboot-vms', '--profile', PROFILE])
  assert.equal(r.code, 7)
  assert.match(r.stderr, /lab-cp01 \(VMID 1201, controlplane\)/)
  assert.match(r.stderr, /re-run with --yes/)
  assert.ok(!sim.requests.slice(from).some((q) => q.method === 'POST'), 'no request changed anything')
})
