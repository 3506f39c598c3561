// Templates against the simulator: idempotent creation from a cloud image and from the Talos factory.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startSimulator, type Simulator } from '../helpers/sim.ts'
import { runScript } from '../helpers/run.ts'

let sim: Simulator
let env: Record<string, string>
const URL = 'https://cloud.example.org/images/noble-server-cloudimg-amd64.img'
const SHA = 'c'.repeat(64)

before(async () => {
  sim = await startSimulator({ timeFactor: 0.001, inventory: { nodes: 3, vms: [] } })
  const dir = await mkdtemp(join(tmpdir(), 'pm-tpl-'))
  env = { ...sim.env(), PVE_CONFIG: sim.writeClusterConfig(join(dir, 'cluster-config.yaml')) }
  sim.control.addUrl(URL, 600 * 1024 * 1024)
})
after(() => sim.stop())

const run = (script: string, args: string[]) => runScript(`scripts/${script}`, args, { env })
const snapshot = () => JSON.stringify(sim.control.state().vms.map((v) => [v.vmid, v.node, v.config]).concat(sim.control.state().volumes.map((v) => [v.volid, v.node ?? ''] as never)))
const writes = () => sim.requests.filter((r) => r.method !== 'GET').length

test('cloud-image template: one per node on local storage, tagged, with source and checksum; a second run changes nothing', async () => {
  let r = await run('template/create.ts', ['--url', URL, '--sha256', SHA, '--name', 'ubuntu-2404', '--vmid', '9000', '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  const created = JSON.parse(r.stdout) as { node: string; vmid: number; action: string }[]
  assert.deepEqual(created.map((c) => `${c.node}:${c.action}`), ['pve1:created', 'pve2:created', 'pve3:created'])
  assert.equal(created[0].vmid, 9000)
  for (const c of created) {
    const vm = sim.control.vm(c.vmid)!
    assert.equal(vm.node, c.node)
    const cfg = vm.config as Record<string, string>
    assert.equal(cfg.template, '1')
    assert.equal(cfg.tags, 'pm-managed;template')
    assert.match(cfg.scsi0, /^local-lvm:base-\d+-disk-\d+/)
    assert.match(cfg.ide2, /cloudinit/)
    assert.match(decodeURIComponent(cfg.description), new RegExp(`pm-image-sha256: ${SHA}`))
  }
  const dl = sim.requests.filter((q) => q.path.endsWith('/download-url'))
  assert.equal(dl.length, 3)
  assert.equal(dl[0].params?.content, 'import')
  assert.match(String(dl[0].params?.filename), /^cccccccccccc-noble-server-cloudimg-amd64\.qcow2$/)
  assert.equal(dl[0].params?.checksum, SHA)

  const state = snapshot()
  const before = writes()
  r = await run('template/create.ts', ['--url', URL, '--sha256', SHA, '--name', 'ubuntu-2404', '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout).map((c: { action: string }) => c.action), ['exists', 'exists', 'exists'])
  assert.equal(writes(), before, 'the second run sent no write request')
  assert.equal(snapshot(), state, 'the second run changed nothing')

  r = await run('template/create.ts', ['--url', URL, '--sha256', 'd'.repeat(64), '--name', 'ubuntu-2404'])
  assert.equal(r.code, 6, 'same name, other image: conflict')
  assert.equal(snapshot(), state)
})

test('Talos template: qcow2 from the factory, OVMF + EFI disk, q35, virtio-scsi-pci, no cloud-init, agent per schematic', async () => {
  const schematic = 'ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515'
  const url = `https://factory.talos.dev/image/${schematic}/v1.11.5/nocloud-amd64.qcow2`
  sim.control.addUrl(url, 300 * 1024 * 1024)
  let r = await run('template/create-talos.ts', ['--version', '1.11.5', '--schematic', schematic, '--extensions', 'siderolabs/qemu-guest-agent', '--node', 'pve3', '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  const [t] = JSON.parse(r.stdout) as { vmid: number; action: string }[]
  assert.equal(t.action, 'created')
  const cfg = sim.control.vm(t.vmid)!.config as Record<string, string>
  assert.equal(cfg.bios, 'ovmf')
  assert.match(cfg.efidisk0, /efitype=4m/)
  assert.equal(cfg.machine, 'q35')
  assert.equal(cfg.scsihw, 'virtio-scsi-pci')
  assert.equal(cfg.ide2, undefined)
  assert.equal(cfg.cicustom, undefined)
  assert.match(cfg.agent, /^(enabled=)?1/)
  assert.match(cfg.tags, /talos/)
  r = await run('template/create-talos.ts', ['--version', 'v1.11.5', '--schematic', schematic, '--extensions', 'siderolabs/qemu-guest-agent', '--node', 'pve3', '--output', 'json'])
  assert.equal(JSON.parse(r.stdout)[0].action, 'exists')

  sim.control.addUrl(`https://factory.talos.dev/image/${'376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba'}/v1.11.5/nocloud-amd64.qcow2`, 300 * 1024 * 1024)
  r = await run('template/create-talos.ts', ['--version', '1.11.5', '--node', 'pve3', '--output', 'json'])
  assert.equal(r.code, 0, r.stderr)
  const vanilla = sim.control.vm(JSON.parse(r.stdout)[0].vmid)!.config as Record<string, string>
  assert.match(vanilla.agent, /^(enabled=)?0/, 'no agent extension, no agent')
})
