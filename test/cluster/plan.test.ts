import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import { loadProfile, expandMembers, type ProfileConfig } from '../../scripts/lib/profile.ts'
import { placeMembers, type NodeCapacity } from '../../scripts/lib/cluster/placement.ts'
import { planCluster, bootDisk, sizeToBytes, type LiveVm } from '../../scripts/lib/cluster/plan.ts'
import { ownerDescription, parseOwner, isOwnedBy } from '../../scripts/lib/cluster/marker.ts'

const config = parse(await readFile('cluster-config.yaml', 'utf8')) as ProfileConfig & { defaults: { network_bridge: string } }
const staging = await loadProfile('talos-staging', config, { dir: 'clusters' })
const lab = await loadProfile('docker-lab', config, { dir: 'clusters' })
const owner = { cluster: 'talos-staging', clusterId: '6f1c7a52-0d4e-4a43-9a57-1f0e8c2b9d11' }
const GiB = 1024 ** 3
const node = (name: string, freeGiB: number, online = true): NodeCapacity => ({ node: name, online, maxmem: 64 * GiB, mem: (64 - freeGiB) * GiB })

test('spread puts control planes on distinct hypervisors, most free memory first', () => {
  const members = expandMembers(staging, config)
  const { placements, warnings } = placeMembers(members, [node('pve01', 10), node('pve02', 40), node('pve03', 20), node('pve04', 30)])
  assert.deepEqual(members.map((m) => placements.get(m.name)!.node), ['pve02', 'pve04', 'pve03'])
  assert.deepEqual(warnings, [])
})

test('spread with fewer hypervisors than control planes shares one and says so', () => {
  const { placements, warnings } = placeMembers(expandMembers(staging, config), [node('pve01', 30), node('pve02', 40), node('pve03', 20, false)])
  assert.deepEqual([...placements.values()].map((p) => p.node).sort(), ['pve01', 'pve02', 'pve02'])
  assert.equal(warnings.length, 1)
  assert.match(warnings[0], /shares pve02 with another control plane/)
})

test('pack fills the fullest node that still has room', () => {
  const members = expandMembers(lab, config) // 3 x 4 GiB
  const { placements } = placeMembers(members, [node('pve01', 9), node('pve02', 40), node('pve03', 5)])
  assert.deepEqual(members.map((m) => placements.get(m.name)!.node), ['pve03', 'pve01', 'pve01'])
})

test('existing VMs and explicit assignments keep their node', () => {
  const members = expandMembers(staging, config)
  members[2].node = 'pve01'
  const { placements } = placeMembers(members, [node('pve01', 10), node('pve02', 40), node('pve03', 20)], new Map([['k0s01', 'pve03']]))
  assert.equal(placements.get('k0s01')!.node, 'pve03')
  assert.equal(placements.get('k0s03')!.node, 'pve01')
  assert.equal(placements.get('k0s02')!.node, 'pve02')
})

test('the owner marker is parsed exactly and compared on cluster and id', () => {
  const d = ownerDescription(owner, { name: 'k0s01', role: 'controlplane' })
  assert.deepEqual(parseOwner(d), owner)
  assert.ok(isOwnedBy(d, owner))
  assert.ok(!isOwnedBy(d, { ...owner, clusterId: '00000000-0000-4000-8000-000000000000' }))
  assert.ok(!isOwnedBy(d.replace('talos-staging/', 'talos-prod/'), owner))
  assert.ok(!isOwnedBy('pm-owner talos-staging ' + owner.clusterId, owner))
  assert.equal(parseOwner(undefined), undefined)
})

function liveVm(vmid: number, name: string, over: Partial<LiveVm> = {}, cfg: Record<string, unknown> = {}): LiveVm {
  return {
    vmid, name, node: 'pve01', status: 'running', template: false, tags: [],
    config: {
      name, cores: 4, memory: '8192', boot: 'order=scsi0;net0', scsi0: 'local-lvm:vm-1-disk-0,size=100G', ide2: 'local-lvm:vm-1-cloudinit,media=cdrom',
      net0: 'virtio=BC:24:11:00:00:01,bridge=vmbr0', tags: 'controlplane;kubernetes;pm-managed;staging;talos',
      description: ownerDescription(owner, { name, role: 'controlplane' }), ...cfg,
    },
    ...over,
  }
}

test('plan classifies missing, matching, differing, foreign, busy and broken VMs', () => {
  const members = expandMembers(staging, config)
  const nodes = [node('pve01', 40), node('pve02', 40), node('pve03', 40)]
  const ip = (n: number) => members[n].ip
  const cfg = (n: number) => ({ ipconfig0: `ip=${ip(n)}/24,gw=${staging.network.gateway}`, nameserver: staging.network.dns!.join(' ') })
  let plan = planCluster({ profile: staging, config, owner, members, nodes, live: [] })
  assert.deepEqual(plan.vms.map((v) => v.state), ['missing', 'missing', 'missing'])

  const live = [
    liveVm(1031, 'k0s01', {}, cfg(0)),
    liveVm(1032, 'k0s02', { status: 'stopped' }, { ...cfg(1), cores: 2, scsi0: 'local-lvm:vm-1032-disk-0,size=32G' }),
    liveVm(1033, 'web', {}, { description: 'hand-made' }),
  ]
  plan = planCluster({ profile: staging, config, owner, members, nodes, live })
  assert.deepEqual(plan.vms.map((v) => v.state), ['match', 'differ', 'foreign'])
  assert.deepEqual(plan.vms[0].actions, {})
  assert.deepEqual(plan.vms[1].actions, { config: { cores: '4' }, resize: { disk: 'scsi0', size: '100G' }, start: true })
  assert.match(plan.vms[2].note!, /without this cluster's owner marker/)

  const busy = planCluster({ profile: staging, config, owner, members, nodes, live: [liveVm(1031, 'k0s01', { lock: 'clone' })] })
  assert.equal(busy.vms[0].state, 'busy')
  const broken = planCluster({ profile: staging, config, owner, members, nodes, live: [liveVm(1031, 'k0s01', { status: 'stopped' }, { scsi0: undefined, boot: undefined })] })
  assert.equal(broken.vms[0].state, 'broken')
  assert.ok(broken.vms[0].actions.destroyBroken && broken.vms[0].actions.clone)
  const template = planCluster({ profile: staging, config, owner, members, nodes, live: [liveVm(1031, 'k0s01', { template: true })] })
  assert.equal(template.vms[0].state, 'foreign')
})

test('hand-added tags are kept, the inherited template tag goes, a static MAC keeps the rest of net0', () => {
  const members = expandMembers(staging, config)
  members[0].mac = 'BC:24:11:AA:BB:01'
  const plan = planCluster({
    profile: staging, config, owner, members, nodes: [node('pve01', 40)],
    live: [liveVm(1031, 'k0s01', {}, { tags: 'backup;talos;template', net0: 'virtio=BC:24:11:00:00:01,bridge=vmbr1,firewall=1', ipconfig0: `ip=${members[0].ip}/24,gw=${staging.network.gateway}`, nameserver: staging.network.dns!.join(' ') })],
  })
  assert.equal(plan.vms[0].actions.config!.tags, 'backup;controlplane;kubernetes;pm-managed;staging;talos')
  assert.equal(plan.vms[0].actions.config!.net0, 'virtio=BC:24:11:AA:BB:01,bridge=vmbr1,firewall=1')
})

test('a disk larger than the profile is drift, never a shrink', () => {
  const members = expandMembers(staging, config)
  const plan = planCluster({ profile: staging, config, owner, members, nodes: [node('pve01', 40)], live: [liveVm(1031, 'k0s01', {}, { scsi0: 'local-lvm:vm-1031-disk-0,size=200G' })] })
  assert.equal(plan.vms[0].actions.resize, undefined)
  assert.match(plan.vms[0].drift[0], /200G, larger than the profile's 100G/)
})

test('boot disk and sizes', () => {
  assert.equal(bootDisk({ boot: 'order=ide2;virtio0', ide2: 'local:iso/x.iso,media=cdrom', virtio0: 'local-lvm:vm-1-disk-0,size=8G' }), 'virtio0')
  assert.equal(bootDisk({ scsi1: 'local-lvm:vm-1-disk-1,size=1G', scsi0: 'local-lvm:vm-1-disk-0,size=8G' }), 'scsi0')
  assert.equal(bootDisk({ ide2: 'local-lvm:vm-1-cloudinit,media=cdrom' }), undefined)
  assert.equal(sizeToBytes('1.5G'), 1.5 * GiB)
})
