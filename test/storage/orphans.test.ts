import { test } from 'node:test'
import assert from 'node:assert/strict'
import { findOrphans, removable, type GuestConfigs, type StoredVolume } from '../../scripts/lib/storage/orphans.ts'
import { volumeOwner, volumesOfConfig } from '../../scripts/lib/storage/volumes.ts'

const g = (vmid: number, config: Record<string, unknown>, extra: Partial<GuestConfigs> = {}): GuestConfigs => ({ vmid, node: 'pve1', type: 'qemu', template: false, tags: ['pm-managed'], config, snapshots: {}, ...extra })
const vol = (volid: string, node = 'pve1'): StoredVolume => ({ volid, storage: volid.split(':')[0], node, shared: false, content: 'images', size: 1024 })

test('volume references are parsed from drive strings, ignoring ISOs on none, passthrough and allocation requests', () => {
  const refs = volumesOfConfig({
    scsi0: 'local-lvm:vm-100-disk-0,iothread=1,size=32G',
    ide2: 'local-lvm:vm-100-cloudinit,media=cdrom',
    ide0: 'none,media=cdrom',
    sata0: '/dev/disk/by-id/ata-X,size=1T',
    virtio1: 'local-lvm:16',
    unused0: 'local-lvm:vm-100-disk-1',
    efidisk0: 'file=local-lvm:vm-100-disk-2,efitype=4m',
    net0: 'virtio=BC:24:11:00:00:01,bridge=vmbr0',
  })
  assert.deepEqual(refs.map((r) => [r.key, r.volid, r.unused, r.cdrom]), [
    ['scsi0', 'local-lvm:vm-100-disk-0', false, false],
    ['ide2', 'local-lvm:vm-100-cloudinit', false, true],
    ['unused0', 'local-lvm:vm-100-disk-1', true, false],
    ['efidisk0', 'local-lvm:vm-100-disk-2', false, false],
  ])
  assert.equal(volumeOwner('vm-123-disk-0'), 123)
  assert.equal(volumeOwner('100/base-100-disk-0.qcow2/101/vm-101-disk-0.qcow2'), 101)
  assert.equal(volumeOwner('9000/vm-9000-disk-0.qcow2'), 9000)
})

test('finds unused entries and unreferenced volumes; snapshot-referenced disks are kept', () => {
  const guests = [
    g(100, { scsi0: 'local-lvm:vm-100-disk-0', unused0: 'local-lvm:vm-100-disk-1', unused1: 'local-lvm:vm-100-disk-2' }, {
      snapshots: { 'pre-upgrade': { scsi0: 'local-lvm:vm-100-disk-2', vmstate: 'local-lvm:vm-100-state-pre-upgrade' } },
    }),
    g(101, { scsi0: 'local-lvm:vm-101-disk-0' }, { tags: [] }),
    g(9000, { scsi0: 'local-lvm:base-9000-disk-0', unused0: 'local-lvm:base-9000-disk-1' }, { template: true }),
  ]
  const volumes = [
    'local-lvm:vm-100-disk-0',
    'local-lvm:vm-100-disk-1',
    'local-lvm:vm-100-disk-2',
    'local-lvm:vm-100-state-pre-upgrade',
    'local-lvm:vm-101-disk-0',
    'local-lvm:vm-101-disk-7',
    'local-lvm:vm-555-disk-0',
    'local-lvm:base-9000-disk-0',
    'local-lvm:base-9000-disk-1',
  ].map((v) => vol(v))
  const { orphans, kept } = findOrphans(guests, volumes, 'pm-managed')
  assert.deepEqual(orphans.map((o) => [o.kind, o.volid, o.vmid, o.ownerExists ?? null]), [
    ['unused', 'local-lvm:vm-100-disk-1', 100, null],
    ['unreferenced', 'local-lvm:vm-101-disk-7', 101, true],
    ['unreferenced', 'local-lvm:vm-555-disk-0', 555, false],
  ])
  assert.deepEqual(kept.map((k) => k.volid).sort(), ['local-lvm:base-9000-disk-1', 'local-lvm:vm-100-disk-2', 'local-lvm:vm-100-state-pre-upgrade'])
  assert.match(kept.find((k) => k.volid === 'local-lvm:vm-100-disk-2')!.reason, /snapshot 'pre-upgrade'/)

  const [unused, foreign, ownerless] = orphans
  assert.equal(removable(unused, false), true) // VM 100 is ours
  assert.equal(removable(foreign, false), false) // VM 101 is not tagged as ours
  assert.equal(removable(foreign, true), true)
  assert.equal(removable(ownerless, false), true) // nobody owns it
})
