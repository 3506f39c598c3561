import { test } from 'node:test'
import assert from 'node:assert/strict'
import { planPower } from '../../scripts/lib/vm/power.ts'
import { planResize, parseSize } from '../../scripts/lib/vm/resize.ts'
import { planClonePlacement, resolveTemplate, configStorages, validateCloneRequest } from '../../scripts/lib/vm/clone.ts'
import { applyTagEdit } from '../../scripts/lib/vm/tags.ts'
import { deleteRefusal, type DeleteCandidate, type DeletePolicy } from '../../scripts/lib/vm/delete.ts'
import { vzdumpBatches, backupStorages } from '../../scripts/lib/vm/backup.ts'
import { wantedConfig } from '../../scripts/lib/vm/configure.ts'
import { ConflictError, RefusedError, NotFoundError, UsageError } from '../../scripts/lib/errors.ts'
import type { VmResource } from '../../scripts/lib/vm/api.ts'

test('power plans: nothing to do is a skip, impossible actions are conflicts', () => {
  assert.deepEqual(planPower('start', { status: 'running', qmpstatus: 'running' }, 1), { do: false, reason: 'already running' })
  assert.deepEqual(planPower('start', { status: 'stopped' }, 1), { do: true })
  assert.deepEqual(planPower('stop', { status: 'stopped' }, 1), { do: false, reason: 'already stopped' })
  assert.deepEqual(planPower('shutdown', { status: 'running', qmpstatus: 'running' }, 1), { do: true })
  assert.throws(() => planPower('shutdown', { status: 'running', qmpstatus: 'paused' }, 7), (e: Error) => e instanceof ConflictError && /paused/.test(e.message))
  assert.throws(() => planPower('reboot', { status: 'stopped' }, 7), /not running/)
  assert.throws(() => planPower('suspend', { status: 'stopped' }, 7), /not running/)
  assert.deepEqual(planPower('suspend', { status: 'running', qmpstatus: 'paused' }, 1), { do: false, reason: 'already paused' })
  assert.deepEqual(planPower('resume', { status: 'running', qmpstatus: 'paused' }, 1), { do: true })
  assert.deepEqual(planPower('resume', { status: 'stopped', lock: 'suspended' }, 1), { do: true })
  assert.deepEqual(planPower('start', { status: 'stopped', lock: 'suspended' }, 1), { do: false, reason: 'suspended to disk: use resume' })
})

test('resize: grow by, grow to, same size, and a clear refusal for shrinking', () => {
  const drive = 'local-lvm:vm-1001-disk-0,iothread=1,size=32G'
  assert.deepEqual(planResize(1001, 'scsi0', drive, '+10G'), { disk: 'scsi0', currentBytes: 32 * 2 ** 30, targetBytes: 42 * 2 ** 30, grow: true })
  assert.equal(planResize(1001, 'scsi0', drive, '32G').grow, false)
  assert.equal(planResize(1001, 'scsi0', drive, '32768M').grow, false)
  assert.throws(() => planResize(1001, 'scsi0', drive, '20G'), (e: Error) => e instanceof RefusedError && /shrinking disks is not supported: scsi0 of VM 1001 is 32G, asked for 20G/.test(e.message))
  assert.throws(() => planResize(1001, 'scsi1', undefined, '+1G'), NotFoundError)
  assert.throws(() => planResize(1001, 'ide2', 'local:iso/x.iso,media=cdrom', '+1G'), /CD-ROM/)
  assert.throws(() => parseSize('-5G'), UsageError)
  assert.equal(parseSize('1.5G').bytes, 1.5 * 2 ** 30)
})

const vms: VmResource[] = [
  { vmid: 101, name: 'talos', node: 'pve1', template: 1 },
  { vmid: 102, name: 'talos', node: 'pve2', template: 1 },
  { vmid: 103, name: 'debian', node: 'pve1', template: 1 },
  { vmid: 1001, name: 'web-1', node: 'pve1', template: 0 },
]
const storages = [
  { storage: 'local-lvm', node: 'pve1', shared: 0 },
  { storage: 'local-lvm', node: 'pve2', shared: 0 },
  { storage: 'ceph', node: 'pve1', shared: 1 },
  { storage: 'ceph', node: 'pve2', shared: 1 },
]

test('templates resolve by id or name, preferring the copy on the target node', () => {
  assert.equal(resolveTemplate(vms, '101').vmid, 101)
  assert.equal(resolveTemplate(vms, 'talos', 'pve2').vmid, 102)
  assert.equal(resolveTemplate(vms, 'talos').vmid, 101)
  assert.throws(() => resolveTemplate(vms, '1001'), RefusedError)
  assert.throws(() => resolveTemplate(vms, '999'), NotFoundError)
  assert.throws(() => resolveTemplate(vms, 'nope'), NotFoundError)
})

test('clone placement: local, the node copy, PVE target for shared disks, else clone and migrate', () => {
  const local = { scsi0: 'local-lvm:base-103-disk-0,size=8G', ide2: 'local-lvm:vm-103-cloudinit,media=cdrom', efidisk0: 'local-lvm:base-103-disk-1,size=4M' }
  const shared = { scsi0: 'ceph:base-103-disk-0,size=8G', ide2: 'none,media=cdrom' }
  assert.equal(planClonePlacement(vms, vms[2], undefined, local, storages).strategy, 'local')
  assert.equal(planClonePlacement(vms, vms[2], 'pve1', local, storages).strategy, 'local')
  const copy = planClonePlacement(vms, vms[0], 'pve2', local, storages)
  assert.equal(copy.strategy, 'node-copy')
  assert.equal(copy.source.vmid, 102)
  assert.equal(planClonePlacement(vms, vms[2], 'pve2', shared, storages).strategy, 'target')
  const migrate = planClonePlacement(vms, vms[2], 'pve2', local, storages)
  assert.equal(migrate.strategy, 'clone-then-migrate')
  assert.deepEqual(migrate.strategy === 'clone-then-migrate' && migrate.localStorages, ['local-lvm'])
  assert.deepEqual(configStorages(local), ['local-lvm'])
})

test('clone requests: DNS names, no STORAGE for linked clones, never the template range', () => {
  const policy = { templateRange: { min: 100, max: 999 } }
  assert.throws(() => validateCloneRequest({ template: '101', name: 'bad_name' }, policy), /DNS names/)
  assert.throws(() => validateCloneRequest({ template: '101', name: 'x', full: false, storage: 'ceph' }, policy), /full clones only/)
  assert.throws(() => validateCloneRequest({ template: '101', name: 'x', vmid: 150 }, policy), RefusedError)
  validateCloneRequest({ template: '101', name: 'web-1.example', vmid: 1500 }, policy)
})

test('tag edits keep foreign tags and report no-ops as undefined', () => {
  assert.equal(applyTagEdit('plb_pin_pve1;web', { op: 'add', tag: 'prod' }), 'plb_pin_pve1;prod;web')
  assert.equal(applyTagEdit('prod;web', { op: 'add', tag: 'prod' }), undefined)
  assert.equal(applyTagEdit('Prod,web', { op: 'add', tag: 'prod' }), undefined)
  assert.equal(applyTagEdit('capmox-x;prod;web', { op: 'remove', tag: 'prod' }), 'capmox-x;web')
  assert.equal(applyTagEdit('web', { op: 'remove', tag: 'prod' }), undefined)
  assert.equal(applyTagEdit('prod', { op: 'remove', tag: 'prod' }), '')
  assert.equal(applyTagEdit('old;web', { op: 'rename', tag: 'old', to: 'new' }), 'new;web')
  assert.equal(applyTagEdit('new;old', { op: 'rename', tag: 'old', to: 'new' }), 'new')
  assert.equal(applyTagEdit('web', { op: 'rename', tag: 'old', to: 'new' }), undefined)
  assert.equal(applyTagEdit(undefined, { op: 'add', tag: 'x' }), 'x')
})

test('delete refusals: template, template range, protection, ownership', () => {
  const policy: DeletePolicy = { templateRange: { min: 100, max: 999 }, managedTag: 'pm-managed', forceProtected: false, includeUnowned: false }
  const base: DeleteCandidate = { vmid: 1001, node: 'pve1', status: 'running', tags: 'pm-managed;web', protection: false, template: false, disks: [] }
  assert.equal(deleteRefusal(base, policy), undefined)
  assert.match(deleteRefusal({ ...base, template: true }, policy)!, /template/)
  assert.match(deleteRefusal({ ...base, vmid: 500 }, policy)!, /template VMID range/)
  assert.match(deleteRefusal({ ...base, protection: true }, policy)!, /protected.*--force-protected/)
  assert.equal(deleteRefusal({ ...base, protection: true }, { ...policy, forceProtected: true }), undefined)
  assert.match(deleteRefusal({ ...base, tags: 'web' }, policy)!, /not created by this tool.*--include-unowned/)
  assert.equal(deleteRefusal({ ...base, tags: 'web' }, { ...policy, includeUnowned: true }), undefined)
  assert.match(deleteRefusal({ ...base, template: true }, { ...policy, forceProtected: true, includeUnowned: true })!, /template/)
})

test('backups: one vzdump per node; backup storages listed once', () => {
  assert.deepEqual(vzdumpBatches([{ vmid: 3, node: 'b' }, { vmid: 1, node: 'a' }, { vmid: 2, node: 'b' }]), [{ node: 'a', vmids: [1] }, { node: 'b', vmids: [2, 3] }])
  const st = [
    { storage: 'local', node: 'pve1', content: 'iso,backup', shared: 0 },
    { storage: 'local', node: 'pve2', content: 'iso,backup', shared: 0 },
    { storage: 'nfs', node: 'pve1', content: 'backup', shared: 1 },
    { storage: 'nfs', node: 'pve2', content: 'backup', shared: 1 },
    { storage: 'local-lvm', node: 'pve1', content: 'images', shared: 0 },
  ]
  assert.deepEqual(backupStorages(st).map((s) => `${s.node}/${s.storage}`), ['pve1/local', 'pve2/local', 'pve1/nfs'])
  assert.deepEqual(backupStorages(st, 'nfs').length, 1)
})

test('set: settings become PVE keys; IP/GW merge into ipconfig; nothing to set is a usage error', () => {
  const w = wantedConfig({ cores: 4, ip: '192.0.2.5/24', index: 1, extra: { onboot: '1', balloon: '' } }, { ipconfig1: 'ip=dhcp' })
  assert.equal(w.cores, 4)
  assert.equal(w.ipconfig1, 'ip=192.0.2.5/24')
  assert.equal(w.onboot, '1')
  assert.equal(w.balloon, null)
  assert.throws(() => wantedConfig({}, {}), /nothing to set/)
  assert.throws(() => wantedConfig({ extra: { digest: 'x' } }, {}), /not a config key/)
  assert.throws(() => wantedConfig({ cores: 2, extra: { cores: '4' } }, {}), /given twice/)
})
