// Crash safety: pve:cluster:create and pve:cluster:teardown processes killed with SIGKILL while
// their k-th mutating request is in flight, for every k of a 6-VM run, then resumed. The request
// is held by a simulator delay fault on exactly the k-th POST/PUT/DELETE, the process is killed,
// the request then takes effect on the simulator (as PVE carries out a request whose client died),
// and the next run must finish the job: the same VMs as an uninterrupted run, no orphan VM or
// volume, no VMID cloned twice, nothing sent to a VM the cluster does not own.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { repoRoot } from '../helpers/run.ts'
import { PmError } from '../../scripts/lib/errors.ts'
import { acceptedClones, assertInvariants, CLUSTER, converged, createOnce, engineFor, fingerprint, mutatingRequests, startLab, teardownOnce, VMIDS, type Lab } from './harness.ts'

/** Runs an entry script and SIGKILLs it while its k-th mutating request is held by the simulator. */
async function killAtRequest(lab: Lab, script: string, args: string[], k: number): Promise<void> {
  const before = mutatingRequests(lab.sim).length
  const fired = lab.sim.control.faultsFired().length
  // Held for 600 simulated seconds (a fraction of a second here): long enough to kill the client first.
  lab.sim.control.addFault({ kind: 'delay', method: 'POST|PUT|DELETE', after: k - 1, count: 1, seconds: 600 })
  const child = spawn(process.execPath, [resolve(repoRoot, script), ...args], { cwd: repoRoot, env: { ...process.env, ...lab.env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
  const exited = new Promise<number | string | null>((r) => child.on('exit', (code, signal) => r(signal ?? code)))
  let done = false
  void exited.then(() => (done = true))
  const deadline = Date.now() + 60_000
  while (lab.sim.control.faultsFired().length === fired) {
    assert.ok(!done, `the run ended before its mutating request ${k}:\n${stderr}`)
    assert.ok(Date.now() < deadline, `request ${k} never came`)
    await new Promise((r) => setTimeout(r, 2))
  }
  child.kill('SIGKILL')
  assert.equal(await exited, 'SIGKILL')
  lab.sim.control.clearFaults()
  // The held request is carried out although its client is gone; wait for it and its task.
  while (mutatingRequests(lab.sim).length < before + k) {
    assert.ok(Date.now() < deadline, `request ${k} was never answered`)
    await new Promise((r) => setTimeout(r, 5))
  }
  await lab.sim.control.idle()
}

/** Each k on its own simulator, a few at a time: most of a run's wall time is process start-up. */
async function eachK(n: number, body: (k: number) => Promise<void>): Promise<void> {
  let next = 1
  const worker = async () => {
    for (let k = next++; k <= n; k = next++) await body(k)
  }
  await Promise.all(Array.from({ length: 4 }, worker))
}

/**
 * The resume. Requests the killed process had in flight besides the held one may still land
 * during it (as on PVE); a run that meets one ends with a clear, resumable error, and the next
 * run finishes.
 */
async function resume(run: () => Promise<{ vm: string; error: unknown }[]>, k: number): Promise<void> {
  const first = await run()
  if (!first.length) return
  for (const f of first) assert.ok(f.error instanceof PmError, `after a kill at request ${k}, ${f.vm}: not a clear error: ${String((f.error as Error)?.stack ?? f.error)}`)
  assert.deepEqual(await run(), [], `second resume after a kill at request ${k} (first: ${first.map((f) => `${f.vm}: ${(f.error as Error).message}`).join('; ')})`)
}

const stateClusterId = (lab: Lab) => engineFor(lab).journal!.readState()?.clusterId

// One uninterrupted run tells how many mutating requests each k-loop covers and what the result is.
const reference = await (async () => {
  const lab = await startLab()
  try {
    const o = engineFor(lab)
    assert.deepEqual(await createOnce(o), [])
    const create = mutatingRequests(lab.sim).length
    const result = fingerprint(lab)
    const before = mutatingRequests(lab.sim).length
    assert.deepEqual(await teardownOnce(o), [])
    return { create, teardown: mutatingRequests(lab.sim).length - before, result }
  } finally {
    await lab.stop()
  }
})()

test(`create killed at each of its ${reference.create} mutating requests, then resumed, ends as an uninterrupted run`, async () => {
  assert.ok(reference.create >= 6 * 3, `a 6-VM create sends at least clone, config and start per VM (got ${reference.create})`)
  await eachK(reference.create, async (k) => {
    const lab = await startLab()
    try {
      await killAtRequest(lab, 'scripts/cluster/create.ts', ['--profile', CLUSTER], k)
      assertInvariants(lab, stateClusterId(lab))
      const o = engineFor(lab)
      await resume(() => createOnce(o), k)
      assert.ok(await converged(o), `converged after a kill at request ${k}`)
      assert.deepEqual(fingerprint(lab), reference.result, `same cluster after a kill at request ${k}`)
      assertInvariants(lab, stateClusterId(lab))
      assert.deepEqual([...acceptedClones(lab).entries()].sort(), VMIDS.map((v) => [v, 1]), `one clone per VMID after a kill at request ${k}`)
      const settled = mutatingRequests(lab.sim).length
      assert.deepEqual(await createOnce(o), [])
      assert.equal(mutatingRequests(lab.sim).length, settled, 'a further run changes nothing')
    } finally {
      await lab.stop()
    }
  })
})

test(`teardown killed at each of its ${reference.teardown} mutating requests, then resumed, leaves nothing`, async () => {
  assert.ok(reference.teardown >= 6 * 2, `a 6-VM teardown stops and deletes each VM (got ${reference.teardown})`)
  await eachK(reference.teardown, async (k) => {
    const lab = await startLab()
    try {
      const o = engineFor(lab)
      assert.deepEqual(await createOnce(o), [])
      const clusterId = stateClusterId(lab)
      await killAtRequest(lab, 'scripts/cluster/teardown.ts', ['--profile', CLUSTER, '--yes', '--shutdown-timeout', '30'], k)
      assertInvariants(lab, clusterId)
      await resume(() => teardownOnce(engineFor(lab)), k)
      const left = lab.sim.control.state()
      assert.deepEqual(left.vms.filter((v) => VMIDS.includes(v.vmid)).map((v) => v.vmid), [], `no VM left after a kill at request ${k}`)
      assert.deepEqual(left.volumes.filter((v) => /vm-22\d\d-/.test(v.volid)).map((v) => v.volid), [], `no volume left after a kill at request ${k}`)
      assertInvariants(lab, clusterId)
    } finally {
      await lab.stop()
    }
  })
})
