// The dynamic inventory as real Ansible loads it (ansible-inventory with ansible/ansible.cfg, which
// points at ansible/inventory/): hosts and groups from the config and the profiles, live placement
// from the simulator, the owner marker once the cluster has an id; never the token.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { startSimulator, type Simulator } from '../helpers/sim.ts'
import { repoRoot } from '../helpers/run.ts'
import { run, VENV_BIN } from '../peers/helpers.ts'

let sim: Simulator
let dir: string

before(async () => {
  sim = await startSimulator({ inventory: 'sandbox', seed: 5 })
  dir = mkdtempSync(join(tmpdir(), 'pm-ansible-inventory-'))
  sim.writeClusterConfig(join(dir, 'cluster-config.yaml'), { ansible: { roles: ['ntp', 'usermgmt'] } })
  const profile = parse(readFileSync(join(repoRoot, 'clusters/docker-lab.yaml'), 'utf8'))
  mkdirSync(join(dir, 'clusters'))
  writeFileSync(join(dir, 'clusters', 'docker-lab.yaml'), stringify(profile))
})

after(async () => {
  await sim?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

async function inventory(extra: Record<string, string> = {}) {
  const r = await run(join(VENV_BIN, 'ansible-inventory'), ['--list'], {
    cwd: join(repoRoot, 'ansible'),
    env: {
      ...sim.env({ PM_CLUSTERS_DIR: join(dir, 'clusters'), PM_STATE_DIR: join(dir, '.state'), ANSIBLE_HOME: join(dir, 'ansible-home'), ...extra }),
      PATH: `${join(repoRoot, '.tools', 'bin')}:${process.env.PATH}`,
      ANSIBLE_CONFIG: join(repoRoot, 'ansible', 'ansible.cfg'),
    },
  })
  assert.equal(r.code, 0, r.stderr)
  assert.ok(!(r.stdout + r.stderr).includes(sim.rootToken.secret), 'the token is never part of the inventory')
  return JSON.parse(r.stdout)
}

test('hosts from the config, VM groups from the profiles, placement from the API', async () => {
  const inv = await inventory()
  assert.deepEqual(inv.pve.hosts, sim.nodes.map((n) => n.name))
  assert.deepEqual(inv._meta.hostvars.pve1.pve_host_roles, ['ntp', 'usermgmt'])
  assert.equal(inv._meta.hostvars.pve1.ansible_host, sim.nodes[0].host)
  assert.deepEqual(inv.docker_lab.children.sort(), ['docker_lab_controlplane', 'docker_lab_workers'])
  assert.deepEqual(inv.docker_lab_controlplane.hosts, ['lab-cp01'])
  assert.deepEqual(inv.docker_lab_workers.hosts, ['lab-w01', 'lab-w02'])
  assert.ok(inv.workers.children.includes('docker_lab_workers'))
  const w1 = inv._meta.hostvars['lab-w01']
  assert.equal(w1.proxmox_vmid, 1111)
  assert.equal(w1.proxmox_exists, false)
  assert.ok(sim.nodes.some((n) => n.name === w1.proxmox_node), `placed on a node of the cluster: ${w1.proxmox_node}`)
  assert.equal(w1.proxmox_description, undefined, 'no owner id yet: no marker to plan')
  assert.equal(w1.proxmox_ca_file, sim.caFile)
})

test('once the cluster has an id, each VM carries its planned tags and owner marker', async () => {
  const id = '0f6c2a8e-3b1d-4c55-9e7a-1d2b3c4d5e6f'
  mkdirSync(join(dir, '.state', 'docker-lab'), { recursive: true })
  writeFileSync(join(dir, '.state', 'docker-lab', 'state.json'), JSON.stringify({ cluster: 'docker-lab', clusterId: id, createdAt: new Date().toISOString(), vmids: [], placement: {} }))
  const inv = await inventory()
  const cp = inv._meta.hostvars['lab-cp01']
  assert.equal(cp.proxmox_owner_id, id)
  assert.match(cp.proxmox_description, new RegExp(`^pm-owner: docker-lab/${id}$`, 'm'))
  assert.deepEqual(cp.proxmox_tags, ['controlplane', 'docker-lab', 'lab', 'pm-managed'])
  assert.equal(cp.proxmox_ipconfig0, 'ip=dhcp')
})

test('without the API the inventory still lists every host and VM (no live data)', async () => {
  const inv = await inventory({ PM_INVENTORY_API: '0' })
  assert.deepEqual(inv.docker_lab_workers.hosts, ['lab-w01', 'lab-w02'])
  assert.equal(inv._meta.hostvars['lab-w01'].proxmox_exists, undefined)
})
