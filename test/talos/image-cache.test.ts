// talos:image-cache: the image list from the real (offline) `talosctl images k8s-bundle` plus the
// user's file, `images cache-create` through the stand-in, the cache swapped in only when complete,
// and configs (real talosctl) with machine.features.imageCache.localEnabled while the cache exists.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { requireRealTalosctl, secretValues, workspace, type Workspace } from './fixture.ts'

requireRealTalosctl()

const localEnabled = (ws: Workspace, node = 'lab-cp01') => {
  const docs = parseAllDocuments(readFileSync(join(ws.dir, `state/lab/${node}.yaml`), 'utf8')).map((d) => d.toJS())
  return docs.find((d) => d?.machine)?.machine?.features?.imageCache?.localEnabled === true
}
const cachedRefs = (ws: Workspace) => JSON.parse(readFileSync(join(ws.dir, 'state/lab/image-cache/index.json'), 'utf8')).manifests.map((m: any) => m.annotations['org.opencontainers.image.ref.name'])

test('the list is the Kubernetes bundle of the profile\'s version plus the images file; --list-only pulls nothing', async () => {
  const ws = workspace({ controlplanes: 1, workers: 1, kubernetes: '1.35.0' })
  try {
    writeFileSync(join(ws.dir, 'extra.txt'), '# Flux\nghcr.io/fluxcd/source-controller:v1.7.0\n\nghcr.io/fluxcd/kustomize-controller:v1.7.0  # pinned\n')
    const r = await ws.run('scripts/talos/image-cache.ts', ['--profile', 'lab', '--images-file', 'extra.txt', '--list-only'])
    assert.equal(r.code, 0, r.stderr)
    const list = r.stdout.trim().split('\n')
    for (const image of ['registry.k8s.io/kube-apiserver:v1.35.0', 'ghcr.io/siderolabs/kubelet:v1.35.0', 'ghcr.io/fluxcd/source-controller:v1.7.0', 'ghcr.io/fluxcd/kustomize-controller:v1.7.0']) assert.ok(list.includes(image), image)
    assert.ok(list.some((i) => i.startsWith('registry.k8s.io/etcd:')))
    assert.equal(new Set(list).size, list.length)
    assert.equal(ws.calls('images').filter((a) => a[1] === 'cache-create').length, 0)

    writeFileSync(join(ws.dir, 'bad.txt'), 'ghcr.io/ok/app:v1\nnot an image\n')
    const bad = await ws.run('scripts/talos/image-cache.ts', ['--profile', 'lab', '--images-file', 'bad.txt'])
    assert.equal(bad.code, 2, bad.stderr)
    assert.match(bad.stderr, /bad\.txt:2/)
  } finally {
    ws.cleanup()
  }
})

test('the cache is built from the list, configs enable localEnabled (also on later talos:config runs), an unchanged list is not pulled again', async () => {
  const ws = workspace({ controlplanes: 1, workers: 1 })
  try {
    const r = await ws.run('scripts/talos/image-cache.ts', ['--profile', 'lab', '--debug'])
    assert.equal(r.code, 0, r.stderr)
    const secrets = secretValues(ws)
    const everything = JSON.stringify(ws.log()) + r.stdout + r.stderr
    for (const secret of secrets) assert.ok(!everything.includes(secret), 'a secret reached argv or output while the configs were regenerated')
    const create = ws.calls('images').filter((a) => a[1] === 'cache-create')
    assert.equal(create.length, 1)
    assert.ok(create[0].includes('--images=-') && create[0].includes('oci'))
    const list = readFileSync(join(ws.dir, 'state/lab/image-cache.images.txt'), 'utf8').trim().split('\n')
    assert.deepEqual(cachedRefs(ws), list, 'the cache holds exactly the listed images')
    assert.ok(localEnabled(ws) && localEnabled(ws, 'lab-w01'))

    const again = await ws.run('scripts/talos/image-cache.ts', ['--profile', 'lab'])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stderr, /up to date/)
    assert.equal(ws.calls('images').filter((a) => a[1] === 'cache-create').length, 1)

    const cfg = await ws.run('scripts/talos/config.ts', ['--profile', 'lab'])
    assert.equal(cfg.code, 0, cfg.stderr)
    assert.ok(localEnabled(ws), 'talos:config keeps localEnabled while the cache exists')
    const off = await ws.run('scripts/talos/config.ts', ['--profile', 'lab', '--no-image-cache'])
    assert.equal(off.code, 0, off.stderr)
    assert.ok(!localEnabled(ws))
  } finally {
    ws.cleanup()
  }
})

test('a pull that fails leaves the previous cache and list as they were, and no partial directory', async () => {
  const ws = workspace({ controlplanes: 1, workers: 0 })
  try {
    const first = await ws.run('scripts/talos/image-cache.ts', ['--profile', 'lab', '--no-configs'])
    assert.equal(first.code, 0, first.stderr)
    const before = cachedRefs(ws)
    writeFileSync(join(ws.dir, 'extra.txt'), 'registry.example.invalid/app:v1\n')
    const r = await ws.run('scripts/talos/image-cache.ts', ['--profile', 'lab', '--images-file', 'extra.txt'])
    assert.equal(r.code, 5, r.stderr)
    assert.match(r.stderr, /no such host/)
    assert.deepEqual(cachedRefs(ws), before)
    assert.ok(!readFileSync(join(ws.dir, 'state/lab/image-cache.images.txt'), 'utf8').includes('invalid'))
    assert.ok(!existsSync(join(ws.dir, 'state/lab/image-cache.building')))
    assert.ok(!existsSync(join(ws.dir, 'state/lab/lab-cp01.yaml')), '--no-configs wrote no config, and the failed run none either')
  } finally {
    ws.cleanup()
  }
})
