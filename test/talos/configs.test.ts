// Machine configs and secrets with the REAL talosctl (gen secrets, gen config, machineconfig patch,
// validate): shipped profiles, per-node network and VIP (documents from 1.12, legacy before), user
// patches in order, validation failures, and the secrets rules.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, cpSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { parseAllDocuments, parse } from 'yaml'
import { workspace, requireRealTalosctl, profileYaml, REPO, REAL_TALOSCTL } from './fixture.ts'

requireRealTalosctl()

const docs = (file: string) => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS())
const byKind = (file: string, kind: string) => docs(file).filter((d) => d?.kind === kind)
const machineDoc = (file: string) => docs(file).find((d) => d?.machine)

test('every shipped Talos profile produces node configs that validate', async () => {
  const shipped = readdirSync(join(REPO, 'clusters')).filter((f) => f.endsWith('.yaml') && parse(readFileSync(join(REPO, 'clusters', f), 'utf8'))?.type === 'talos')
  assert.ok(shipped.length >= 1, 'at least one Talos example profile is shipped')
  for (const file of shipped) {
    const ws = workspace({ name: 'unused' })
    try {
      rmSync(join(ws.dir, 'clusters'), { recursive: true })
      cpSync(join(REPO, 'clusters'), join(ws.dir, 'clusters'), { recursive: true })
      writeFileSync(join(ws.dir, 'pve.yaml'), readFileSync(join(REPO, 'cluster-config.yaml'), 'utf8').replace(/^tls:\n( {2}.*\n|\s*#.*\n)*/m, `tls:\n  fingerprint: "${Array(32).fill('AB').join(':')}"\n`) + `tools:\n  talosctl: ${REAL_TALOSCTL}\n`)
      const name = file.replace(/\.yaml$/, '')
      const r = await ws.run('scripts/talos/config.ts', ['--profile', name, '--config', join(ws.dir, 'pve.yaml')])
      assert.equal(r.code, 0, `${file}: ${r.stderr}`)
      const profile = parse(readFileSync(join(ws.dir, 'clusters', file), 'utf8'))
      const dir = join(ws.dir, profile.talos.config_dir)
      const nodes = profile.nodes.controlplane.count + (profile.nodes.workers?.count ?? 0)
      const written = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== profile.talos.secrets_file)
      assert.equal(written.length, nodes, `${file}: one config per node`)
      for (const f of written) {
        const out = execFileSync(REAL_TALOSCTL, ['validate', '--mode', 'cloud', '--strict', '--config', join(dir, f)], { encoding: 'utf8' })
        assert.match(out, /valid for cloud mode/)
        assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600)
      }
    } finally {
      ws.cleanup()
    }
  }
})

test('node configs carry hostname, static address, route, nameservers, the VIP on control planes only, and the factory installer', async () => {
  const ws = workspace({ controlplanes: 2, workers: 1 })
  try {
    const r = await ws.run('scripts/talos/config.ts', ['--profile', 'lab'])
    assert.equal(r.code, 0, r.stderr)
    const cp = join(ws.dir, 'state/lab/lab-cp01.yaml')
    const w = join(ws.dir, 'state/lab/lab-w01.yaml')
    assert.deepEqual(byKind(cp, 'HostnameConfig')[0], { apiVersion: 'v1alpha1', kind: 'HostnameConfig', auto: 'off', hostname: 'lab-cp01' })
    const link = byKind(cp, 'LinkConfig')[0]
    assert.deepEqual(link.addresses, [{ address: '127.0.10.11/24' }])
    assert.deepEqual(link.routes, [{ gateway: '127.0.10.1' }])
    assert.deepEqual(byKind(cp, 'ResolverConfig')[0].nameservers, [{ address: '127.0.10.1' }])
    assert.deepEqual(byKind(cp, 'Layer2VIPConfig').map((d) => [d.name, d.link]), [['127.0.10.30', 'eth0']])
    assert.equal(byKind(w, 'Layer2VIPConfig').length, 0, 'workers never carry the VIP')
    const m = machineDoc(cp)
    assert.equal(m.machine.install.image, 'factory.talos.dev/nocloud-installer/ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515:v1.13.0')
    assert.equal(m.cluster.controlPlane.endpoint, 'https://127.0.10.30:6443')
    assert.deepEqual(m.cluster.network.podSubnets, ['10.244.0.0/16'])
    assert.match(m.cluster.apiServer.image, /:v1\.35\.0$/)
    assert.equal(machineDoc(w).machine.type, 'worker')
  } finally {
    ws.cleanup()
  }
})

test('before Talos 1.12 the legacy machine.network fields carry the address and the VIP', async () => {
  const ws = workspace({ version: 'v1.11.5', kubernetes: '1.34.1', controlplanes: 1, workers: 1 })
  try {
    const r = await ws.run('scripts/talos/config.ts', ['--profile', 'lab'])
    assert.equal(r.code, 0, r.stderr)
    const cp = join(ws.dir, 'state/lab/lab-cp01.yaml')
    assert.equal(byKind(cp, 'Layer2VIPConfig').length, 0)
    const net = machineDoc(cp).machine.network
    assert.equal(net.hostname, 'lab-cp01')
    assert.deepEqual(net.interfaces[0], { interface: 'eth0', addresses: ['127.0.10.11/24'], routes: [{ network: '0.0.0.0/0', gateway: '127.0.10.1' }], vip: { ip: '127.0.10.30' } })
    assert.equal(machineDoc(join(ws.dir, 'state/lab/lab-w01.yaml')).machine.network.interfaces[0].vip, undefined)
  } finally {
    ws.cleanup()
  }
})

test('user patches apply in order all/ → role/ → node/, and an invalid result is refused with nothing written', async () => {
  const ws = workspace({ controlplanes: 1, workers: 1 })
  try {
    const patches = join(ws.dir, 'state/lab/patches')
    for (const d of ['all', 'controlplane', 'lab-w01']) mkdirSync(join(patches, d), { recursive: true })
    writeFileSync(join(patches, 'all/10-time.yaml'), 'machine:\n  time:\n    servers: [time.example.net]\n  install:\n    disk: /dev/sdb\n')
    writeFileSync(join(patches, 'controlplane/10-sched.yaml'), 'cluster:\n  allowSchedulingOnControlPlanes: true\n')
    writeFileSync(join(patches, 'lab-w01/10-disk.yaml'), 'machine:\n  install:\n    disk: /dev/vdb\n')
    const r = await ws.run('scripts/talos/config.ts', ['--profile', 'lab'])
    assert.equal(r.code, 0, r.stderr)
    const cp = machineDoc(join(ws.dir, 'state/lab/lab-cp01.yaml'))
    const w = machineDoc(join(ws.dir, 'state/lab/lab-w01.yaml'))
    assert.deepEqual(cp.machine.time.servers, ['time.example.net'])
    assert.equal(cp.machine.install.disk, '/dev/sdb')
    assert.equal(cp.cluster.allowSchedulingOnControlPlanes, true)
    assert.equal(w.machine.install.disk, '/dev/vdb', 'the node patch wins over all/')
    assert.equal(w.cluster.allowSchedulingOnControlPlanes, undefined)

    const before = readFileSync(join(ws.dir, 'state/lab/lab-w01.yaml'), 'utf8')
    writeFileSync(join(patches, 'lab-w01/20-broken.yaml'), 'machine:\n  network:\n    interfaces:\n      - interface: eth1\n        addresses: [not-an-address]\n')
    const bad = await ws.run('scripts/talos/config.ts', ['--profile', 'lab'])
    assert.equal(bad.code, 5, bad.stderr)
    assert.match(bad.stderr, /config of lab-w01 is not valid/)
    assert.match(bad.stderr, /20-broken\.yaml/)
    assert.equal(readFileSync(join(ws.dir, 'state/lab/lab-w01.yaml'), 'utf8'), before, 'the previous config is kept')
    assert.ok(!readdirSync(join(ws.dir, 'state/lab')).some((f) => f.startsWith('.gen-')), 'no work directory left behind')
  } finally {
    ws.cleanup()
  }
})

test('secrets: generated once with 0600/0700, regeneration refused, new secrets refused for a bootstrapped cluster', async () => {
  const ws = workspace({ controlplanes: 1, workers: 0 })
  try {
    const first = await ws.run('scripts/talos/secrets.ts', ['--profile', 'lab'])
    assert.equal(first.code, 0, first.stderr)
    const file = join(ws.dir, 'state/lab/secrets.yaml')
    const content = readFileSync(file, 'utf8')
    assert.match(content, /bootstraptoken/)
    assert.equal(statSync(file).mode & 0o777, 0o600)
    assert.equal(statSync(join(ws.dir, 'state/lab')).mode & 0o777, 0o700)
    assert.deepEqual(ws.calls('gen').map((a) => a.slice(0, 2)), [['gen', 'secrets']])

    const again = await ws.run('scripts/talos/secrets.ts', ['--profile', 'lab'])
    assert.equal(again.code, 6, again.stderr)
    assert.match(again.stderr, /already exist.*lock you out/)
    assert.equal(readFileSync(file, 'utf8'), content)

    // talos:config reuses them: the PKI in the configs comes from this bundle.
    const cfg = await ws.run('scripts/talos/config.ts', ['--profile', 'lab'])
    assert.equal(cfg.code, 0, cfg.stderr)
    assert.equal(readFileSync(file, 'utf8'), content)
    const ca = parse(content).certs.os.crt
    assert.equal(machineDoc(join(ws.dir, 'state/lab/lab-cp01.yaml')).machine.ca.crt, ca)

    writeFileSync(join(ws.dir, 'state/lab/.bootstrapped'), '{}\n')
    execFileSync('rm', [file])
    const lost = await ws.run('scripts/talos/config.ts', ['--profile', 'lab'])
    assert.equal(lost.code, 7, lost.stderr)
    assert.match(lost.stderr, /bootstrapped .* secrets are missing/)
    assert.ok(!existsSync(file))
  } finally {
    ws.cleanup()
  }
})

test('secrets inside a git work tree are refused unless ignored; SOPS files need sops', async () => {
  const ws = workspace({ controlplanes: 1, workers: 0 })
  try {
    execFileSync('git', ['init', '-q', ws.dir])
    const refused = await ws.run('scripts/talos/secrets.ts', ['--profile', 'lab'])
    assert.equal(refused.code, 7, refused.stderr)
    assert.match(refused.stderr, /not ignored/)
    assert.ok(!existsSync(join(ws.dir, 'state/lab/secrets.yaml')))
    writeFileSync(join(ws.dir, '.gitignore'), 'state/\n')
    const ok = await ws.run('scripts/talos/secrets.ts', ['--profile', 'lab'])
    assert.equal(ok.code, 0, ok.stderr)

    ws.writeProfile(profileYaml({ controlplanes: 1, workers: 0, secretsFile: 'secrets.sops.yaml', configDir: 'state/sops' }))
    const sops = await ws.run('scripts/talos/secrets.ts', ['--profile', 'lab'], { env: { PM_SOPS: 'sops-not-installed' } })
    assert.equal(sops.code, 1, sops.stderr)
    assert.match(sops.stderr, /SOPS-encrypted.*not installed/)
    assert.ok(!existsSync(join(ws.dir, 'state/sops/secrets.sops.yaml')), 'no plaintext left where the encrypted file belongs')
    assert.ok(!readdirSync(join(ws.dir, 'state/sops')).length, 'the plaintext work file is removed')
  } finally {
    ws.cleanup()
  }
})

test('profile errors: a schematic_id that does not match the extensions, and an inexact Talos version', async () => {
  const ws = workspace({ controlplanes: 1, workers: 0, schematicId: '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba' })
  try {
    const r = await ws.run('scripts/talos/config.ts', ['--profile', 'lab'])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /talos\.factory\.schematic_id: 3765.* is not the schematic of the listed extensions, which is ce4c9805/)
    assert.equal(ws.calls('gen').length, 0, 'nothing generated')
    ws.writeProfile(profileYaml({ controlplanes: 1, workers: 0, version: '1.13' }))
    const v = await ws.run('scripts/talos/schematic.ts', ['--profile', 'lab'])
    assert.equal(v.code, 2, v.stderr)
    assert.match(v.stderr, /talos\.version: "1\.13" is not an exact Talos release/)
  } finally {
    ws.cleanup()
  }
})

test('talos:schematic prints the YAML, the ID and the image URLs', async () => {
  const ws = workspace({ controlplanes: 1, workers: 0 })
  try {
    const r = await ws.run('scripts/talos/schematic.ts', ['--profile', 'lab', '--output', 'json'])
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.equal(out.id, 'ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515')
    assert.equal(out.schematic, 'customization:\n    systemExtensions:\n        officialExtensions:\n            - siderolabs/qemu-guest-agent\n')
    assert.match(out.images.rawXz, /\/image\/ce4c9805.*\/v1\.13\.0\/nocloud-amd64\.raw\.xz$/)
    const table = await ws.run('scripts/talos/schematic.ts', ['--profile', 'lab'])
    assert.match(table.stdout, /secureboot installer: +factory\.talos\.dev\/nocloud-installer-secureboot\//)
  } finally {
    ws.cleanup()
  }
})
