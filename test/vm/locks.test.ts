import { test } from 'node:test'
import assert from 'node:assert/strict'
import { classifyLock, waitForUnlock, lockRemedy, isLockTimeout, lockedBy, describeContention } from '../../scripts/lib/vm/locks.ts'
import { ConflictError } from '../../scripts/lib/errors.ts'

function fakeClock() {
  let t = 0
  return { now: () => t, sleep: async (ms: number) => void (t += ms) }
}

test('lock classes', () => {
  assert.equal(classifyLock(undefined), 'none')
  for (const l of ['clone', 'migrate', 'backup', 'snapshot', 'rollback', 'create']) assert.equal(classifyLock(l), 'transient')
  assert.equal(classifyLock('suspended'), 'stale')
  assert.equal(classifyLock('snapshot-delete', { taskRunning: false }), 'stale')
  assert.equal(classifyLock('snapshot-delete', { taskRunning: true }), 'transient')
  assert.equal(classifyLock('something-new'), 'stale')
})

test('waits with growing pauses until a transient lock is gone', async () => {
  const clock = fakeClock()
  const seen: number[] = []
  let reads = 0
  await waitForUnlock(async () => ({ lock: ++reads < 5 ? 'clone' : undefined }), {
    vmid: 1001, timeoutMs: 60_000, ...clock, onWait: (_l, waited) => seen.push(waited),
  })
  assert.equal(reads, 5)
  assert.equal(seen.length, 4)
  const gaps = seen.slice(1).map((w, i) => w - seen[i])
  assert.ok(gaps[2] > gaps[0], `backoff grows: ${gaps}`)
})

test('a transient lock still there at the deadline is a conflict with a remedy', async () => {
  const clock = fakeClock()
  await assert.rejects(
    waitForUnlock(async () => ({ lock: 'backup', node: 'pve2' }), { vmid: 1002, timeoutMs: 10_000, ...clock }),
    (e: Error) => e instanceof ConflictError && /still locked \(backup\)/.test(e.message) && /qm unlock 1002/.test((e as ConflictError).hint ?? ''),
  )
  assert.ok(clock.now() >= 10_000 && clock.now() < 16_000)
})

test('stale locks stop at once with the exact remedy', async () => {
  const clock = fakeClock()
  await assert.rejects(
    waitForUnlock(async () => ({ lock: 'snapshot-delete', taskRunning: false, node: 'pve1' }), { vmid: 1003, timeoutMs: 60_000, ...clock }),
    (e: Error) => e instanceof ConflictError && /qm unlock 1003` \(on node pve1\), then `qm delsnapshot 1003 <snapshot> --force/.test((e as ConflictError).hint ?? ''),
  )
  assert.equal(clock.now(), 0)
  await assert.rejects(waitForUnlock(async () => ({ lock: 'suspended' }), { vmid: 1004, timeoutMs: 60_000, ...clock }), /suspended/)
  assert.match(lockRemedy(1004, 'suspended'), /pve:vm:resume VMID=1004/)
})

test('PVE lock texts are recognised', () => {
  assert.ok(isLockTimeout("can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout"))
  assert.ok(isLockTimeout("clone failed: cfs-lock 'storage-ceph' error: got lock request timeout"))
  assert.ok(!isLockTimeout('VM is locked (backup)'))
  assert.equal(lockedBy('VM is locked (snapshot-delete)'), 'snapshot-delete')
})

test('retried contention is described in words, never with PVE\'s raw lock text', () => {
  const cases: [string, RegExp][] = [
    ["can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout", /^the configuration of VM 101 is busy/],
    ["clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout", /^storage local-lvm is busy/],
    ["clone failed: cfs-lock 'storage-ceph' error: got lock request timeout", /^storage ceph is busy/],
    ["can't lock file '/var/lock/pve-manager/pve-migrate-1007' - got timeout", /^a migration of VM 1007/],
    ['VM is locked (snapshot)', /^VM is locked \(snapshot\)$/],
  ]
  for (const [raw, words] of cases) {
    assert.match(describeContention(raw), words)
    assert.doesNotMatch(describeContention(raw), /can't lock file|got timeout|got lock request timeout/)
  }
})
