import { test } from 'node:test'
import assert from 'node:assert/strict'
import { diffConfig, changeEffect, hotplugFeatures } from '../../scripts/lib/vm/config-diff.ts'
import { encodeSshKeys } from '../../scripts/lib/vm/normalize.ts'

const current = {
  digest: 'a'.repeat(40),
  cores: 2,
  memory: '4096',
  tags: 'db;web',
  net0: 'virtio=BC:24:11:2A:3B:4C,bridge=vmbr0,firewall=1',
  ipconfig0: 'ip=192.0.2.10/24,gw=192.0.2.1',
  ciuser: 'ops',
  sshkeys: encodeSshKeys('ssh-ed25519 AAAA ops@host'),
  onboot: 1,
}

test('only changed keys are sent, with the digest they were compared against', () => {
  const u = diffConfig(current, { cores: 4, memory: 4096, tags: 'Web,DB', ciuser: 'ops', onboot: true })
  assert.deepEqual(u.params, { cores: '4', digest: 'a'.repeat(40) })
  assert.deepEqual(u.changes, [{ key: 'cores', from: 2, to: '4' }])
})

test('values equal under PVE normalisation are no change at all', () => {
  const u = diffConfig(current, {
    tags: 'web db web',
    net0: 'virtio,bridge=vmbr0,firewall=1',
    ipconfig0: 'gw=192.0.2.1,ip=192.0.2.10/24',
    sshkeys: 'ssh-ed25519 AAAA ops@host\n',
    memory: 'current=4096',
    cores: '2',
  })
  assert.equal(u.params, undefined)
  assert.deepEqual(u.changes, [])
})

test('net changes keep the MAC; tags are sent in PVE form', () => {
  const u = diffConfig(current, { net0: 'virtio,bridge=vmbr1', tags: 'k8s,Web' })
  assert.equal(u.params?.net0, 'virtio=BC:24:11:2A:3B:4C,bridge=vmbr1')
  assert.equal(u.params?.tags, 'k8s;web')
})

test('null deletes a key that is set; empty tags delete the tags key', () => {
  assert.deepEqual(diffConfig(current, { ciuser: null, nameserver: null }).params, { delete: 'ciuser', digest: 'a'.repeat(40) })
  assert.deepEqual(diffConfig(current, { tags: '' }).params, { delete: 'tags', digest: 'a'.repeat(40) })
  assert.equal(diffConfig({ digest: 'x' }, { tags: '' }).params, undefined)
})

test('re-running against the resulting config sends nothing', () => {
  const wanted = { cores: 8, memory: 8192, tags: 'A;b', net0: 'e1000,bridge=vmbr2', sshkeys: 'ssh-rsa BBBB x@y' }
  const first = diffConfig(current, wanted)
  const after: Record<string, unknown> = { ...current, ...first.params }
  delete after.digest
  assert.equal(diffConfig(after, wanted).params, undefined)
})

test('what stays pending on a running VM', () => {
  const running = { running: true }
  assert.equal(changeEffect('cores', running), 'pending')
  assert.equal(changeEffect('memory', running), 'pending')
  assert.equal(changeEffect('memory', { running: true, hotplug: 'network,disk,memory' }), 'immediate')
  assert.equal(changeEffect('vcpus', { running: true, hotplug: 'cpu' }), 'immediate')
  assert.equal(changeEffect('net0', running), 'immediate')
  assert.equal(changeEffect('net0', { running: true, hotplug: '0' }), 'pending')
  assert.equal(changeEffect('tags', running), 'immediate')
  assert.equal(changeEffect('name', running), 'immediate')
  assert.equal(changeEffect('ipconfig0', running), 'next-boot')
  assert.equal(changeEffect('sshkeys', running), 'next-boot')
  assert.equal(changeEffect('bios', running), 'pending')
  assert.equal(changeEffect('cores', { running: false }), 'immediate')
  assert.deepEqual([...hotplugFeatures(undefined)], ['network', 'disk', 'usb'])
  assert.deepEqual([...hotplugFeatures('0')], [])
})
