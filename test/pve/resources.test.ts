import { test } from 'node:test'
import assert from 'node:assert/strict'
import { filterVms, parseTags, toVmSummary, type ClusterResource } from '../../scripts/lib/pve/resources.ts'
import { missingPrivileges, TOOL_PRIVILEGES } from '../../scripts/lib/pve/privileges.ts'

const rows: ClusterResource[] = [
  { id: 'qemu/100', type: 'qemu', vmid: 100, name: 'tpl', node: 'pve1', status: 'stopped', template: 1, tags: 'template' },
  { id: 'qemu/1001', type: 'qemu', vmid: 1001, name: 'cp-1', node: 'pve1', status: 'running', template: 0, tags: 'k8s;staging', lock: 'backup' },
  { id: 'qemu/1002', type: 'qemu', vmid: 1002, name: 'cp-2', node: 'pve2', status: 'running', tags: 'k8s;prod' },
  { id: 'qemu/1003', type: 'qemu', vmid: 1003, node: 'pve2', status: 'stopped' },
]
const vms = rows.map(toVmSummary)

test('tags are split the way PVE writes them', () => {
  assert.deepEqual(parseTags('k8s;staging'), ['k8s', 'staging'])
  assert.deepEqual(parseTags('a, b c'), ['a', 'b', 'c'])
  assert.deepEqual(parseTags(undefined), [])
})

test('a VM without a name gets PVE’s default name; template is a boolean', () => {
  assert.equal(vms[3].name, 'VM 1003')
  assert.equal(vms[0].template, true)
  assert.equal(vms[1].template, false)
  assert.equal(vms[1].lock, 'backup')
})

test('filters combine with AND; every --tag must be present', () => {
  const ids = (f: Parameters<typeof filterVms>[1]) => filterVms(vms, f).map((v) => v.vmid)
  assert.deepEqual(ids({ tags: ['k8s'] }), [1001, 1002])
  assert.deepEqual(ids({ tags: ['k8s', 'staging'] }), [1001])
  assert.deepEqual(ids({ tags: ['k8s', 'nope'] }), [])
  assert.deepEqual(ids({ status: 'running', node: 'pve2' }), [1002])
  assert.deepEqual(ids({ template: true }), [100])
  assert.deepEqual(ids({ template: false, status: 'stopped' }), [1003])
  assert.deepEqual(ids({}), [100, 1001, 1002, 1003])
})

test('missing privileges are those of the role absent on /', () => {
  const all = Object.fromEntries(TOOL_PRIVILEGES.map((p) => [p.privilege, 1]))
  assert.deepEqual(missingPrivileges({ '/': all }), [])
  const { 'VM.Migrate': _gone, ...rest } = all
  assert.deepEqual(missingPrivileges({ '/': rest, '/vms/100': { 'VM.Migrate': 1 } }).map((p) => p.privilege), ['VM.Migrate'])
  assert.equal(missingPrivileges({}).length, TOOL_PRIVILEGES.length)
})
