import { test } from 'node:test'
import assert from 'node:assert/strict'
import { grants, missingPrivileges, describeMissing, vmRequirements, configKeyPrivilege, createVmRequirements } from '../../scripts/lib/vm/permissions.ts'
import { downloadUrlRequirements } from '../../scripts/lib/storage/upload.ts'
import { toolSnapshotName, parseToolSnapshot, planPrune, assertSnapshotName } from '../../scripts/lib/vm/snapshot-names.ts'

const map = {
  '/': { 'Sys.Audit': 1 },
  '/vms': { 'VM.Audit': 1, 'VM.PowerMgmt': 0 },
  '/vms/1001': { 'VM.Audit': 1, 'VM.PowerMgmt': 1 },
  '/pool/data': { 'VM.PowerMgmt': 1 },
}

test('privileges: exact path, else nearest propagating ancestor, or the VM pool', () => {
  assert.ok(grants(map, '/vms/1001', 'VM.PowerMgmt'))
  assert.ok(grants(map, '/vms/1002', 'VM.Audit'))
  assert.ok(!grants(map, '/vms/1002', 'VM.PowerMgmt'), 'a non-propagating grant on /vms does not reach /vms/1002')
  assert.ok(!grants(map, '/storage/local', 'Datastore.AllocateSpace'))
  const reqs = vmRequirements([{ vmid: 1001 }, { vmid: 1002 }, { vmid: 1003, pool: 'data' }, { vmid: 1004 }], 'VM.PowerMgmt')
  const missing = missingPrivileges(map, reqs)
  assert.deepEqual(missing.map((m) => m.path), ['/vms/1002', '/vms/1004'])
  assert.equal(describeMissing(missing), 'VM.PowerMgmt on /vms/1002, /vms/1004')
  assert.equal(configKeyPrivilege('cores'), 'VM.Config.CPU')
  assert.equal(configKeyPrivilege('ipconfig0'), 'VM.Config.Cloudinit')
  assert.equal(configKeyPrivilege('tags'), 'VM.Config.Options')
  assert.equal(configKeyPrivilege('net1'), 'VM.Config.Network')
})

test("'or' alternatives: download-url is satisfied by Sys.AccessNetwork on the node or by Sys.Audit + Sys.Modify on /", () => {
  const store = { '/storage/local': { 'Datastore.AllocateTemplate': 1 } }
  const reqs = [...downloadUrlRequirements('pve1', 'local'), ...downloadUrlRequirements('pve2', 'local')]
  assert.deepEqual(missingPrivileges({ ...store, '/': { 'Sys.Audit': 1, 'Sys.Modify': 1 } }, reqs), [])
  assert.deepEqual(missingPrivileges({ ...store, '/nodes': { 'Sys.AccessNetwork': 1 } }, reqs), [])
  const half = missingPrivileges({ ...store, '/': { 'Sys.Audit': 1 }, '/nodes/pve1': { 'Sys.AccessNetwork': 1 } }, reqs)
  assert.equal(describeMissing(half), 'Sys.AccessNetwork on /nodes/pve2 (or Sys.Audit + Sys.Modify on /)')
  assert.equal(describeMissing(missingPrivileges({}, reqs)), 'Datastore.AllocateTemplate on /storage/local; Sys.AccessNetwork on /nodes/pve1, /nodes/pve2 (or Sys.Audit + Sys.Modify on /)')
})

test('create requirements: VM.Allocate, the config privilege of each key, space on disk storages, read access to the import source, SDN.Use on the bridge', () => {
  const reqs = createVmRequirements(9001, {
    vmid: 9001, name: 't', cores: 2, memory: 2048, machine: 'q35', serial0: 'socket', net0: 'virtio,bridge=vmbr1,tag=20',
    scsi0: 'local-lvm:0,import-from=local:import/x.qcow2', ide2: 'local-lvm:cloudinit', ide0: 'local:iso/a.iso,media=cdrom',
  })
  const named = new Set(reqs.map((r) => `${r.privilege} ${r.path}`))
  for (const want of ['VM.Allocate /vms/9001', 'VM.Config.Options /vms/9001', 'VM.Config.CPU /vms/9001', 'VM.Config.Memory /vms/9001', 'VM.Config.HWType /vms/9001', 'VM.Config.Network /vms/9001', 'VM.Config.CDROM /vms/9001', 'Datastore.AllocateSpace /storage/local-lvm', 'Datastore.Audit /storage/local', 'SDN.Use /sdn/zones/localnetwork/vmbr1/20'])
    assert.ok(named.has(want), want)
  assert.ok(!named.has('VM.Config.Disk /vms/9001'), 'disks are checked on their storages')
  // the import source is readable with any of PVE's three storage privileges
  const source = { '/storage/local-lvm': { 'Datastore.AllocateSpace': 1 } }
  const only = (p: string) => missingPrivileges({ ...source, '/storage/local': { [p]: 1 } }, reqs.filter((r) => r.path.startsWith('/storage')))
  for (const p of ['Datastore.Audit', 'Datastore.AllocateSpace', 'Datastore.Allocate']) assert.deepEqual(only(p), [], p)
  assert.equal(describeMissing(only('Datastore.AllocateTemplate')), 'Datastore.Audit on /storage/local (or Datastore.AllocateSpace on /storage/local, or Datastore.Allocate on /storage/local)')
})

test('snapshot names of the tool: prefix, optional label, UTC time; others are not ours', () => {
  const at = new Date(Date.UTC(2026, 4, 22, 12, 0, 5))
  assert.equal(toolSnapshotName('daily', at), 'pm-daily-20260522120005')
  assert.equal(toolSnapshotName(undefined, at), 'pm-20260522120005')
  assert.deepEqual(parseToolSnapshot('pm-daily-20260522120005'), { name: 'pm-daily-20260522120005', label: 'daily', time: at.getTime() / 1000 })
  assert.equal(parseToolSnapshot('pm-20260522120005')?.label, '')
  for (const n of ['before-upgrade', 'pm-manual', 'autodaily260522', 'pm-daily-2026']) assert.equal(parseToolSnapshot(n), undefined, n)
  assert.throws(() => toolSnapshotName('bad-label'), /invalid label/)
  assert.throws(() => assertSnapshotName('current'), /reserved/)
  assert.throws(() => assertSnapshotName('1abc'), /invalid snapshot name/)
  assert.ok(toolSnapshotName('a'.repeat(22), at).length <= 40)
})

test('prune keeps the newest N of ours per label and never touches other snapshots', () => {
  const snaps = [
    { name: 'pm-daily-20260101000000', snaptime: 1 },
    { name: 'pm-daily-20260102000000', snaptime: 2 },
    { name: 'pm-daily-20260103000000', snaptime: 3 },
    { name: 'pm-weekly-20260101000000', snaptime: 1 },
    { name: 'pm-weekly-20260108000000', snaptime: 8 },
    { name: 'before-upgrade', snaptime: 0 },
    { name: 'current' },
  ]
  assert.deepEqual(planPrune(snaps, 1).map((s) => s.name), ['pm-daily-20260102000000', 'pm-daily-20260101000000', 'pm-weekly-20260101000000'])
  assert.deepEqual(planPrune(snaps, 2, 'daily').map((s) => s.name), ['pm-daily-20260101000000'])
  assert.deepEqual(planPrune(snaps, 0, 'nosuch'), [])
  assert.equal(planPrune(snaps, 0).length, 5)
  assert.throws(() => planPrune(snaps, -1), /KEEP/)
})
