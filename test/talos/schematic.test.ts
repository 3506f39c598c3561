// Schematic IDs must equal the Image Factory's. The vectors in test/fixtures/talos/schematic-vectors.jsonl
// were produced by image-factory's algorithm itself (gopkg.in/yaml.v3 Marshal of pkg/schematic.Schematic,
// then SHA-256), and include the factory's own test IDs (empty, kernel args, meta, secureboot) and the
// published qemu-guest-agent schematic.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { factoryArtifacts, schematicId, schematicYaml, submitSchematic, type SchematicInput } from '../../scripts/lib/talos/schematic.ts'
import { UnsupportedScalarError } from '../../scripts/lib/talos/go-yaml.ts'
import { REPO } from './fixture.ts'

interface Vector {
  input: { customization?: { extraKernelArgs?: string[]; meta?: { key: number; value: string }[]; systemExtensions?: { officialExtensions?: string[] }; secureboot?: { includeWellKnownCertificates?: boolean } } }
  id: string
}

const vectors: Vector[] = readFileSync(join(REPO, 'test/fixtures/talos/schematic-vectors.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))

const toInput = (v: Vector['input']): SchematicInput => ({
  extensions: v.customization?.systemExtensions?.officialExtensions,
  extraKernelArgs: v.customization?.extraKernelArgs,
  meta: v.customization?.meta,
  secureBootWellKnownCerts: v.customization?.secureboot?.includeWellKnownCertificates,
})

test('known schematic IDs: the empty schematic and qemu-guest-agent alone', () => {
  assert.equal(schematicYaml({}), 'customization: {}\n')
  assert.equal(schematicId(schematicYaml({})), '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba')
  assert.equal(schematicId(schematicYaml({ extensions: ['siderolabs/qemu-guest-agent'] })), 'ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515')
  assert.equal(schematicId(schematicYaml({ extraKernelArgs: ['noapic', 'nolapic'] })), '9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c')
  assert.equal(schematicId(schematicYaml({ meta: [{ key: 10, value: 'foo' }] })), 'd308a2a5ee2277bed5fbaa104fcbc8d59122abfa737df987a95b4ca763459a7f')
  assert.equal(schematicId(schematicYaml({ secureBootWellKnownCerts: true })), 'fa8e05f142a851d3ee568eb0a8e5841eaf6b0ebc8df9a63df16ac5ed2c04f3e6')
})

test(`every reference vector (${vectors.length}) gives the factory's ID, quoting rules included`, () => {
  assert.ok(vectors.length >= 15)
  const wrong = vectors.filter((v) => schematicId(schematicYaml(toInput(v.input))) !== v.id)
  assert.deepEqual(wrong.map((v) => JSON.stringify(v.input)), [])
})

test('extension order is part of the ID (the factory does not sort)', () => {
  const a = schematicId(schematicYaml({ extensions: ['siderolabs/qemu-guest-agent', 'siderolabs/iscsi-tools'] }))
  const b = schematicId(schematicYaml({ extensions: ['siderolabs/iscsi-tools', 'siderolabs/qemu-guest-agent'] }))
  assert.equal(a, '6ebbfe35c8225645c05d4d19eaad385bd1ec795954932d0ada671388272fec19')
  assert.notEqual(a, b)
})

test('values whose YAML form is not reproduced are refused rather than guessed', () => {
  assert.throws(() => schematicYaml({ extraKernelArgs: ['bad\u0085nel'] }), UnsupportedScalarError)
  assert.throws(() => schematicYaml({ meta: [{ key: 10, value: '\nleading break' }] }), UnsupportedScalarError)
  assert.throws(() => schematicYaml({ meta: [{ key: 300, value: 'x' }] }), UnsupportedScalarError)
})

test('image and installer references follow the factory layout (nocloud, secureboot variants)', () => {
  const id = 'ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515'
  const a = factoryArtifacts('https://factory.talos.dev/', id, 'v1.13.0')
  assert.equal(a.images.rawXz, `https://factory.talos.dev/image/${id}/v1.13.0/nocloud-amd64.raw.xz`)
  assert.equal(a.images.qcow2, `https://factory.talos.dev/image/${id}/v1.13.0/nocloud-amd64.qcow2`)
  assert.equal(a.images.secureBootIso, `https://factory.talos.dev/image/${id}/v1.13.0/nocloud-amd64-secureboot.iso`)
  assert.equal(a.installer, `factory.talos.dev/nocloud-installer/${id}:v1.13.0`)
  assert.equal(a.secureBootInstaller, `factory.talos.dev/nocloud-installer-secureboot/${id}:v1.13.0`)
})

test('submit POSTs the YAML to /schematics and returns the id (loopback stub)', async () => {
  const bodies: string[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d)).on('end', () => {
      bodies.push(`${req.method} ${req.url} ${body}`)
      if (body.includes('broken')) {
        res.writeHead(400).end('invalid schematic')
        return
      }
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: schematicId(body) }))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  try {
    const yaml = schematicYaml({ extensions: ['siderolabs/qemu-guest-agent'] })
    assert.equal(await submitSchematic(url, yaml), schematicId(yaml))
    assert.equal(bodies[0], `POST /schematics ${yaml}`)
    await assert.rejects(submitSchematic(url, 'broken'), /refused the schematic: HTTP 400/)
  } finally {
    server.close()
  }
})
