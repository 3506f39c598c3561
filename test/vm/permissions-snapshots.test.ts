import { test } from 'node:test'
import assert from 'node:assert/strict'
import { grants, missingPrivileges, describeMissing, vmRequirements, configKeyPrivilege } from '../../scripts/lib/vm/permissions.ts'
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
