import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cloudTemplateParams, describeTemplate, importFilename, readMarker, sameImage, talosImageUrl, talosTemplateParams, templateNodes, type VmDefaults } from '../../scripts/lib/template/spec.ts'

const defaults: VmDefaults = { storage: 'local-lvm', bios: 'ovmf', machine: 'q35', cpu: 'host', scsihw: 'virtio-scsi-pci', network_bridge: 'vmbr0', guest_agent: true, ostype: 'l26', cores: 2, memory: 2048 }
const sha = 'a'.repeat(64)

test('the description records source and checksum, and reading it back identifies the same image', () => {
  const d = describeTemplate('Debian 13', { url: 'https://example.org/debian.qcow2', sha256: sha.toUpperCase() })
  const marker = readMarker(d)
  assert.deepEqual(marker, { source: 'https://example.org/debian.qcow2', sha256: sha })
  assert.ok(sameImage(marker, { url: 'https://example.org/debian.qcow2', sha256: sha }))
  assert.ok(!sameImage(marker, { url: 'https://example.org/debian.qcow2', sha256: 'b'.repeat(64) }))
  assert.ok(!sameImage(marker, { url: 'https://example.org/other.qcow2', sha256: sha }))
  assert.deepEqual(readMarker(encodeURIComponent(d)), marker)
  assert.equal(readMarker('hand-made template'), undefined)
})

test('import file names carry the checksum and an extension PVE accepts; compressed images are refused', () => {
  assert.equal(importFilename({ url: 'https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img', sha256: sha }, 'x'), `${'a'.repeat(12)}-noble-server-cloudimg-amd64.qcow2`)
  assert.equal(importFilename({ url: 'https://e.org/d/disk.raw' }, 'f00dfeedbeef0011'), 'f00dfeedbeef-disk.raw')
  assert.throws(() => importFilename({ url: 'https://e.org/nocloud-amd64.raw.xz' }, 'x'), /compressed images cannot be imported/)
})

test('cloud template: imported disk, cloud-init drive, EFI disk for OVMF, agent from the defaults', () => {
  const p = cloudTemplateParams({ vmid: 900, name: 'debian-13', importVolid: 'local:import/aaa-debian.qcow2', defaults, tags: ['template', 'pm-managed'], description: 'd' })
  assert.equal(p.scsi0, 'local-lvm:0,import-from=local:import/aaa-debian.qcow2,discard=on')
  assert.equal(p.ide2, 'local-lvm:cloudinit')
  assert.equal(p.efidisk0, 'local-lvm:1,efitype=4m,pre-enrolled-keys=0')
  assert.equal(p.agent, 'enabled=1')
  assert.equal(p.tags, 'template;pm-managed')
  const seabios = cloudTemplateParams({ vmid: 900, name: 'x', importVolid: 'v', defaults: { ...defaults, bios: 'seabios', guest_agent: false }, tags: [], description: '' })
  assert.equal(seabios.efidisk0, undefined)
  assert.equal(seabios.agent, 'enabled=0')
})

test('Talos template: OVMF + EFI disk, q35, one VirtIO SCSI controller, no cloud-init, agent only with the extension', () => {
  const common = { vmid: 901, name: 'talos-1-10-0', importVolid: 'local:import/t.qcow2', defaults: { ...defaults, bios: 'seabios' as const, machine: 'pc', scsihw: 'virtio-scsi-single' }, tags: ['template', 'talos'], description: '' }
  const withAgent = talosTemplateParams({ ...common, guestAgent: true })
  assert.equal(withAgent.bios, 'ovmf')
  assert.equal(withAgent.machine, 'q35')
  assert.equal(withAgent.scsihw, 'virtio-scsi-pci')
  assert.match(String(withAgent.efidisk0), /efitype=4m/)
  assert.equal(withAgent.ide2, undefined)
  assert.equal(withAgent.cicustom, undefined)
  assert.equal(withAgent.agent, 'enabled=1')
  assert.equal(talosTemplateParams({ ...common, guestAgent: false }).agent, 'enabled=0')
  assert.equal(talosImageUrl('abc', '1.10.0'), 'https://factory.talos.dev/image/abc/v1.10.0/nocloud-amd64.qcow2')
})

test('one template for shared storage, one per node for local storage', () => {
  assert.deepEqual(templateNodes(true, ['pve3', 'pve1', 'pve2']), ['pve1'])
  assert.deepEqual(templateNodes(false, ['pve3', 'pve1']), ['pve1', 'pve3'])
})
