import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  normalizeTags, encodeSshKeys, decodeSshKeys, sameSshKeys, parseNet, formatNet, mergeNet, sameNet, mergeIpConfig, sameIpConfig, memoryMiB,
} from '../../scripts/lib/vm/normalize.ts'

test('tags: split on ; , and space, lower-cased, de-duplicated, sorted, joined with ;', () => {
  assert.equal(normalizeTags('Web,db;Web'), 'db;web')
  assert.equal(normalizeTags(['k8s staging', 'K8S']), 'k8s;staging')
  assert.equal(normalizeTags('known-tag;unknown-at-plan'), 'known-tag;unknown-at-plan')
  assert.equal(normalizeTags(''), '')
  assert.throws(() => normalizeTags('ok,bad/tag'), /invalid tag 'bad\/tag'/)
  assert.throws(() => normalizeTags('-leading'), /invalid tag/)
})

test('sshkeys: encoded with only the characters PVE accepts, compared after decoding', () => {
  const keys = 'ssh-ed25519 AAAAC3Nza+/= ops@host\n\nssh-rsa AAAAB3 other@host (x)\n'
  const enc = encodeSshKeys(keys)
  assert.match(enc, /^[%a-zA-Z0-9\-_.!~*'()]*$/)
  assert.equal(decodeSshKeys(enc), 'ssh-ed25519 AAAAC3Nza+/= ops@host\nssh-rsa AAAAB3 other@host (x)\n')
  // the form jq @uri / Python quote(safe='') produce is the same value
  const jqStyle = 'ssh-ed25519%20AAAAC3Nza%2B%2F%3D%20ops%40host%0Assh-rsa%20AAAAB3%20other%40host%20%28x%29'
  assert.ok(sameSshKeys(jqStyle, keys))
  assert.ok(!sameSshKeys(jqStyle, 'ssh-ed25519 AAAAC3Nza+/= ops@host'))
  assert.equal(encodeSshKeys('\n  \n'), '')
})

test('net: model=MAC first, options sorted, booleans as 0/1', () => {
  const n = parseNet('virtio=bc:24:11:2a:3b:4c,firewall=true,bridge=vmbr0')
  assert.deepEqual(n, { model: 'virtio', macaddr: 'BC:24:11:2A:3B:4C', options: { firewall: '1', bridge: 'vmbr0' } })
  assert.equal(formatNet(n), 'virtio=BC:24:11:2A:3B:4C,bridge=vmbr0,firewall=1')
  assert.equal(formatNet(parseNet('model=e1000,macaddr=BC:24:11:00:00:01,tag=10')), 'e1000=BC:24:11:00:00:01,tag=10')
  assert.throws(() => parseNet('bridge=vmbr0'), /no model/)
  assert.throws(() => parseNet('virtio=zz,bridge=vmbr0'), /invalid MAC/)
})

test('net: a wanted device without MAC keeps the existing MAC', () => {
  const current = 'virtio=BC:24:11:2A:3B:4C,bridge=vmbr0,firewall=1'
  assert.equal(mergeNet(current, 'virtio,bridge=vmbr1,tag=20'), 'virtio=BC:24:11:2A:3B:4C,bridge=vmbr1,tag=20')
  assert.ok(sameNet(current, 'virtio,bridge=vmbr0,firewall=1'))
  assert.ok(sameNet(current, mergeNet(current, 'virtio,firewall=1,bridge=vmbr0')))
  assert.ok(!sameNet(current, 'virtio,bridge=vmbr0'))
  assert.ok(!sameNet(current, 'e1000,bridge=vmbr0,firewall=1'))
  assert.equal(mergeNet(undefined, 'virtio,bridge=vmbr0'), 'virtio,bridge=vmbr0')
})

test('ipconfig: IP/GW merged into the current value', () => {
  assert.equal(mergeIpConfig(undefined, { ip: '192.0.2.10/24', gw: '192.0.2.1' }), 'ip=192.0.2.10/24,gw=192.0.2.1')
  assert.equal(mergeIpConfig('ip=192.0.2.10/24,gw=192.0.2.1', { ip: '192.0.2.11/24' }), 'ip=192.0.2.11/24,gw=192.0.2.1')
  assert.equal(mergeIpConfig('ip=192.0.2.10/24,gw=192.0.2.1', { ip: 'dhcp' }), 'ip=dhcp')
  assert.equal(mergeIpConfig('ip=192.0.2.10/24,ip6=auto', { gw: '192.0.2.254' }), 'ip=192.0.2.10/24,gw=192.0.2.254,ip6=auto')
  assert.throws(() => mergeIpConfig(undefined, { gw: '192.0.2.1' }), /GW needs an IP/)
  assert.throws(() => mergeIpConfig(undefined, { ip: '192.0.2.10' }), /IPv4\/CIDR/)
  assert.ok(sameIpConfig('gw=192.0.2.1,ip=192.0.2.10/24', 'ip=192.0.2.10/24,gw=192.0.2.1'))
  assert.ok(!sameIpConfig('ip=dhcp', 'ip=192.0.2.10/24'))
})

test('memory is read from the PVE 8.1+ property string', () => {
  assert.equal(memoryMiB('2048'), 2048)
  assert.equal(memoryMiB('current=4096'), 4096)
  assert.equal(memoryMiB(1024), 1024)
  assert.equal(memoryMiB(undefined), undefined)
})
