// The seeded fault campaign of cluster create and teardown. Each seed draws a few faults from the
// simulator's catalogue (HTTP 5xx/595/596/599, dropped connections, slow requests, failed tasks
// with PVE's texts, nextid races) and sometimes "someone else" changing one of the cluster's VMs
// between two runs; then create is run until it converges and teardown until nothing remains, with
// the invariants checked after every run. Used by campaign.test.ts (the normal run) and
// bench/cluster-campaign.ts (a larger one on demand).
import assert from 'node:assert/strict'
import { seededRandom, type FaultRule } from '../sim/faults.ts'
import { PmError } from '../../scripts/lib/errors.ts'
import type { Simulator } from '../sim/index.ts'
import { assertInvariants, converged, createOnce, engineFor, mutatingRequests, startLab, teardownOnce, vmidsAt, VMIDS, type Lab } from './harness.ts'

type Mutation = 'migrate' | 'rename' | 'retag' | 'delete' | 'replace'

export interface SeedOutcome {
  seed: number
  faults: FaultRule[]
  mutation?: { vmid: number; action: Mutation }
  createRuns: number
  teardownRuns: number
  /** The clear errors runs ended with (one line each). */
  errors: string[]
  faultsFired: number
}

const TASK_FAILURES: [string, string][] = [
  ['qmclone', "clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout"],
  ['qmclone', 'clone failed: storage migration failed: write error: No space left on device'],
  ['qmstart', "can't lock file '/var/lock/qemu-server/lock-{vmid}.conf' - got timeout"],
  ['qmstart', 'start failed: QEMU exited with code 1'],
  ['qmshutdown', 'VM quit/powerdown failed - got timeout'],
  ['qmdestroy', "can't lock file '/var/lock/qemu-server/lock-{vmid}.conf' - got timeout"],
  ['qmigrate', 'migration aborted'],
  ['qmresize', "can't lock file '/var/lock/qemu-server/lock-{vmid}.conf' - got timeout"],
]
const HTTP_FAULTS: [number, string][] = [
  [500, "can't lock file '/var/lock/qemu-server/lock-{vmid}.conf' - got timeout"],
  [500, 'got no worker upid - start worker failed'],
  [595, 'Errors during connection establishment, proxy handshake: No route to host'],
  [596, 'Connection timed out'],
  [599, 'Too many redirections'],
]
const PATHS = ['/clone$', '/config$', '/status/start$', '/status/shutdown$', '/status/stop$', '/resize$', '/qemu/\\d+$', '/migrate$', '^/cluster/resources', '/storage/']

/** A few faults, each firing a bounded number of times so the campaign can converge. */
export function faultsFor(seed: number, vmids = VMIDS): { rules: FaultRule[]; mutation?: { index: number; action: Mutation } } {
  const rand = seededRandom(seed * 7919 + 17)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]
  const vmid = () => pick(vmids)
  const rules: FaultRule[] = []
  const n = 1 + Math.floor(rand() * 3)
  for (let i = 0; i < n; i++) {
    const count = 1 + Math.floor(rand() * 3)
    const after = Math.floor(rand() * 20)
    switch (pick(['http', 'http', 'reset', 'delay', 'task-fail', 'task-fail', 'nextid-race'] as const)) {
      case 'http': {
        const [status, message] = pick(HTTP_FAULTS)
        rules.push({ kind: 'http', status, message: message.replace('{vmid}', String(vmid())), method: pick(['GET', 'POST', 'PUT', 'DELETE']), path: pick(PATHS), after, count })
        break
      }
      case 'reset':
        rules.push({ kind: 'reset', method: pick(['GET', 'POST', 'PUT', 'DELETE']), path: pick(PATHS), after, count })
        break
      case 'delay':
        rules.push({ kind: 'delay', seconds: 5 + Math.floor(rand() * 60), path: pick(PATHS), after, count })
        break
      case 'task-fail': {
        const [type, message] = pick(TASK_FAILURES)
        const target = vmid()
        rules.push({ kind: 'task-fail', type, message: message.replace('{vmid}', String(target)), ...(rand() < 0.5 ? { vmid: target } : {}), count })
        break
      }
      case 'nextid-race':
        rules.push({ kind: 'nextid-race', count })
        break
    }
  }
  const mutation = rand() < 0.2 ? { index: Math.floor(rand() * vmids.length), action: pick(['migrate', 'rename', 'retag', 'delete', 'replace'] as const) } : undefined
  return { rules, mutation }
}

/** Every error a run ends with is one the user can act on: a PmError with a message. */
function clearErrors(failures: { vm: string; error: unknown }[]): string[] {
  return failures.map((f) => {
    assert.ok(f.error instanceof PmError, `${f.vm}: not a clear error: ${(f.error as Error)?.stack ?? String(f.error)}`)
    assert.ok(f.error.message.length > 0)
    return `${f.vm}: ${f.error.message.split('\n')[0]}`
  })
}

const MAX_RUNS = 5

/**
 * One seed on its own simulator, or on `opts.sim` (seeds sharing one run one after another; each
 * gets its own VMIDs and cluster name, and the faults are replaced between seeds).
 */
export async function runSeed(seed: number, opts: { timeFactor?: number; sim?: Simulator; cps?: number; workers?: number } = {}): Promise<SeedOutcome> {
  const base = opts.sim ? 3000 + 20 * seed : 2200
  const size = { cps: opts.cps ?? 3, workers: opts.workers ?? 3 }
  const { rules, mutation } = faultsFor(seed, vmidsAt(base, size.cps, size.workers))
  const lab: Lab = await startLab({ seed, faults: { seed, rules }, timeFactor: opts.timeFactor, sim: opts.sim, base, name: `c${seed}`, ...size })
  const VMIDS = lab.vmids
  const firedBefore = lab.sim.control.faultsFired().length
  const outcome: SeedOutcome = { seed, faults: rules, createRuns: 0, teardownRuns: 0, errors: [], faultsFired: 0 }
  try {
    const o = engineFor(lab)
    const clusterId = () => o.journal!.readState()?.clusterId
    // replace: a VM that is not ours at our VMID (never to be touched); rename: ours, but create
    // must not adopt it under another name. Either way create cannot converge and says why.
    let foreign: number | undefined
    let blocked: number | undefined
    let foreignSince = 0
    // create until converged; the mutation (someone else) strikes after the first run.
    for (;;) {
      outcome.createRuns++
      const failures = await createOnce(o).catch((error: unknown) => [{ vm: 'run', error }])
      outcome.errors.push(...clearErrors(failures))
      await lab.sim.control.idle()
      assertInvariants(lab, clusterId(), foreign)
      if (mutation && outcome.createRuns === 1) {
        const vmid = VMIDS[mutation.index]
        if (lab.sim.control.state().vms.some((v) => v.vmid === vmid && !v.config.lock)) {
          lab.sim.control.mutate(vmid, mutation.action)
          outcome.mutation = { vmid, action: mutation.action }
          if (mutation.action === 'replace' || mutation.action === 'rename') blocked = vmid
          if (mutation.action === 'replace') {
            foreign = vmid
            foreignSince = lab.sim.requests.length
          }
        }
        continue
      }
      // The command's own final check reads under the same faults: its error is a failed run too.
      const done = !failures.length && (await converged(o).catch((error: unknown) => (outcome.errors.push(...clearErrors([{ vm: 'check', error }])), false)))
      if (done) break
      if (blocked !== undefined && failures.length && failures.some((f) => (f.error as Error).message.includes(`VMID ${blocked}`))) break
      assert.ok(outcome.createRuns < MAX_RUNS, `create did not converge in ${MAX_RUNS} runs: ${outcome.errors.join('; ')}`)
    }
    // teardown until nothing of the cluster remains (the faults still firing).
    for (;;) {
      outcome.teardownRuns++
      const failures = await teardownOnce(engineFor(lab)).catch((error: unknown) => [{ vm: 'run', error }])
      outcome.errors.push(...clearErrors(failures))
      await lab.sim.control.idle()
      assertInvariants(lab, clusterId(), foreign)
      if (!failures.length) break
      assert.ok(outcome.teardownRuns < MAX_RUNS, `teardown did not finish in ${MAX_RUNS} runs: ${outcome.errors.join('; ')}`)
    }
    const state = lab.sim.control.state()
    const left = state.vms.filter((v) => VMIDS.includes(v.vmid) && v.vmid !== foreign).map((v) => v.vmid)
    assert.deepEqual(left, [], 'teardown left VMs of the cluster')
    if (foreign !== undefined) {
      // Never touched since it stopped being ours: only reads.
      const touched = lab.sim.requests.slice(foreignSince).filter((r) => r.method !== 'GET' && new RegExp(`/qemu/${foreign}(/|$)`).test(r.path))
      assert.deepEqual(touched.map((r) => `${r.method} ${r.path}`), [], `VM ${foreign} lost the owner marker or name and was still acted on`)
      assert.ok(state.vms.some((v) => v.vmid === foreign), `the foreign VM ${foreign} must survive`)
    }
    outcome.faultsFired = lab.sim.control.faultsFired().length - firedBefore
    return outcome
  } catch (err) {
    ;(err as Error).message = `seed ${seed} (faults ${JSON.stringify(rules)}, mutation ${JSON.stringify(outcome.mutation)}, mutating requests ${mutatingRequests(lab.sim).length - lab.since}): ${(err as Error).message}`
    throw err
  } finally {
    await lab.stop()
  }
}
