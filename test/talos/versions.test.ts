import { test } from 'node:test'
import assert from 'node:assert/strict'
import { checkUpgradePath, contractVersion, usesNetworkDocuments } from '../../scripts/lib/talos/versions.ts'
import { RefusedError } from '../../scripts/lib/errors.ts'

test('upgrade path: patches and the next minor are supported; skipping a minor or downgrading is refused', () => {
  checkUpgradePath('v1.12.4', 'v1.12.6')
  checkUpgradePath('v1.12.6', 'v1.13.0')
  checkUpgradePath('v1.13.0', 'v1.13.0')
  assert.throws(() => checkUpgradePath('v1.11.5', 'v1.13.0'), (e: unknown) => e instanceof RefusedError && /latest v1\.12\.x patch first/.test(String(e.hint)))
  assert.throws(() => checkUpgradePath('v1.13.2', 'v1.13.1'), RefusedError)
  assert.throws(() => checkUpgradePath('v1.13.0', 'v2.0.0'), RefusedError)
})

test('config contract and the network document switch at 1.12', () => {
  assert.equal(contractVersion('v1.13.4'), 'v1.13')
  assert.equal(contractVersion('1.9'), 'v1.9')
  assert.equal(usesNetworkDocuments('v1.11.6'), false)
  assert.equal(usesNetworkDocuments('v1.12.0'), true)
  assert.equal(usesNetworkDocuments('v1.13.0'), true)
})
