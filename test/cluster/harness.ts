// A simulator with a generic cluster profile, and the engine run in-process against it (create,
// teardown), plus the invariants every interrupted or faulty run must leave behind: only the
// profile's VMs, each with the owner marker, no volume without its VM, no VMID cloned twice, and
// no mutating request aimed at a VM the cluster does not own.
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { startSimulator, type Simulator } from '../helpers/sim.ts'
import type { FaultSchedule } from '../sim/faults.ts'
import { loadClusterConfig, type ClusterConfig } from '../../scripts/lib/config.ts'
import { ConflictError } from '../../scripts/lib/errors.ts'
import { PveClient } from '../../scripts/lib/pve/client.ts'
import { createAgent } from '../../scripts/lib/pve/tls.ts'
import { loadProfile, type LoadedProfile } from '../../scripts/lib/profile.ts'
import { ClusterJournal } from '../../scripts/lib/cluster/journal.ts'
import { createJobs, foreignConflicts, prepareCreate, prepareTeardown, runJobs, teardownJobs, verifyTornDown, type EngineOptions } from '../../scripts/lib/cluster/engine.ts'
import { isOwnedBy } from '../../scripts/lib/cluster/marker.ts'
import { REAL_TALOSCTL, STANDIN_FLUX, STANDIN_TALOSCTL } from '../talos/fixture.ts'
import { planCluster } from '../../scripts/lib/cluster/plan.ts'
import { readClusterView, withConfigs } from '../../scripts/lib/cluster/live.ts'

/**
 * Environment for running the cluster scripts as processes against `sim` in sandbox mode: the
 * talosctl/flux stand-ins log and keep their state in `dir`, profiles live in `dir`/clusters.
 */
export function sandboxScriptEnv(sim: Simulator, dir: string): Record<string, string> {
  const config = sim.writeClusterConfig(join(dir, 'cluster-config.yaml'), { sandbox: true, tools: { talosctl: STANDIN_TALOSCTL, flux: STANDIN_FLUX } })
  return {
    ...sim.env(),
    PVE_CONFIG: config,
    PM_CLUSTERS_DIR: join(dir, 'clusters'),
    PM_STATE_DIR: join(dir, 'state'),
    PM_STANDIN_LOG: join(dir, 'standin.jsonl'),
    PM_STANDIN_STATE: join(dir, 'standin-state.json'),
    PM_REAL_TALOSCTL: REAL_TALOSCTL,
    PM_TASK_POLL_MS: '20',
    PM_RETRY_BASE_MS: '50',
  }
}

export const CLUSTER = 'six'
/** The VMIDs of sixProfile() at base 2200: control planes 2201-2203, workers 2211-2213. */
export const vmidsAt = (base: number, cps = 3, workers = 3) => [...Array.from({ length: cps }, (_, i) => base + 1 + i), ...Array.from({ length: workers }, (_, i) => base + 11 + i)]
export const VMIDS = vmidsAt(2200)

export function sixProfile(name = CLUSTER, base = 2200, cps = 3, workers = 3): string {
  // A bare number of VMs; cps/workers change only the counts.
  return `name: ${name}
type: generic
nodes:
  controlplane: { count: ${cps}, name_prefix: ${name}-cp, start_vmid: ${base + 1}, cores: 1, memory: 1024, disk: 8G, placement: spread }
  workers: { count: ${workers}, name_prefix: ${name}-w, start_vmid: ${base + 11}, cores: 2, memory: 1024, disk: 8G, placement: spread }
template: 100
tags: [${name}]
`
}

export interface Lab {
  sim: Simulator
  dir: string
  /** Environment for the entry scripts (subprocesses). */
  env: Record<string, string>
  config: ClusterConfig
  profile: LoadedProfile
  /** The profile's VMIDs. */
  vmids: number[]
  /** VMs that existed before the lab (the inventory, earlier labs on a shared simulator). */
  known: Set<number>
  /** Mutating requests sent before the lab (earlier labs on a shared simulator). */
  since: number
  stop(): Promise<void>
}

/** Engine settings for tests: fast polls and backoffs (the simulator runs at a high time factor). */
export const FAST = { PM_TASK_POLL_MS: '10', PM_RETRY_BASE_MS: '20' }

/**
 * A cluster profile on a simulator: its own (sandbox inventory) or `opts.sim`, shared by labs that
 * run one after another with distinct `base` VMIDs (starting a simulator costs a dozen openssl runs).
 */
export async function startLab(opts: { seed?: number; faults?: FaultSchedule; timeFactor?: number; sim?: Simulator; base?: number; name?: string; cps?: number; workers?: number } = {}): Promise<Lab> {
  const sim = opts.sim ?? (await startSimulator({ inventory: 'sandbox', timeFactor: opts.timeFactor ?? 0.0005, seed: opts.seed, faults: opts.faults }))
  if (opts.sim) for (const rule of opts.faults?.rules ?? []) sim.control.addFault(rule)
  const name = opts.name ?? CLUSTER
  const base = opts.base ?? 2200
  const dir = await mkdtemp(join(tmpdir(), 'pm-cluster-'))
  mkdirSync(join(dir, 'clusters'))
  writeFileSync(join(dir, 'clusters', `${name}.yaml`), sixProfile(name, base, opts.cps, opts.workers))
  const configFile = sim.writeClusterConfig(join(dir, 'cluster-config.yaml'))
  // NODE_COMPILE_CACHE as the Taskfile sets it: entry scripts start faster.
  const env = { ...sim.env(), PVE_CONFIG: configFile, PM_CLUSTERS_DIR: join(dir, 'clusters'), PM_STATE_DIR: join(dir, 'state'), NODE_COMPILE_CACHE: resolve('.tools/cache/node-compile'), ...FAST }
  const config = await loadClusterConfig(configFile)
  const profile = await loadProfile(name, config, { dir: join(dir, 'clusters') })
  return {
    sim, dir, env, config, profile,
    vmids: vmidsAt(base, opts.cps, opts.workers),
    known: new Set(sim.control.state().vms.map((v) => v.vmid)),
    since: mutatingRequests(sim).length,
    async stop() {
      if (opts.sim) sim.control.clearFaults()
      else await sim.stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** In-process engine options on the lab (its own root@pam token, given directly: labs run side by side). */
const engineTokens = new WeakMap<Simulator, { id: string; secret: string }>()

/** The in-process engine's own token: its requests are told apart from a killed process's late ones. */
export function engineToken(sim: Simulator): { id: string; secret: string } {
  let token = engineTokens.get(sim)
  if (!token) engineTokens.set(sim, (token = sim.control.createToken('root@pam', 'engine', { privsep: false })))
  return token
}

export function engineFor(lab: Lab): EngineOptions {
  const token = engineToken(lab.sim)
  return {
    client: new PveClient({
      nodes: lab.config.cluster.nodes,
      credentials: async () => ({ tokenId: token.id, secret: token.secret, source: 'test' }),
      dispatcher: async () => createAgent(lab.config.tls, { connectTimeoutMs: 10_000, configFile: lab.config.file }),
      timeoutMs: 20_000,
    }),
    config: lab.config,
    profile: lab.profile,
    journal: new ClusterJournal(lab.profile.name, join(lab.dir, 'state')),
    pollMs: 10,
    retryBaseMs: 20,
  }
}

/** One create run in-process; returns the failures (empty when every VM converged). */
export async function createOnce(o: EngineOptions): Promise<{ vm: string; error: unknown }[]> {
  const prepared = await prepareCreate(o, { persist: true })
  const conflicts = foreignConflicts(prepared.plan)
  // As the create command refuses them (commands.ts): nothing is changed.
  if (conflicts.length) return conflicts.map((c) => ({ vm: c, error: new ConflictError(`the profile's VMIDs are taken: ${c}`) }))
  return runJobs(createJobs(o, prepared), () => {})
}

export async function teardownOnce(o: EngineOptions): Promise<{ vm: string; error: unknown }[]> {
  const prepared = await prepareTeardown(o, { persist: true })
  const failures = await runJobs(teardownJobs(o, prepared, { shutdownTimeoutSeconds: 30 }), () => {})
  if (failures.length) return failures
  return (await verifyTornDown(o, prepared)).map((l) => ({ vm: l, error: new Error('still present') }))
}

/** Does every VM of the profile exist and match it (the engine's own check, from a fresh read)? */
export async function converged(o: EngineOptions): Promise<boolean> {
  const prepared = await prepareCreate(o, { persist: false })
  const view = await readClusterView(o.client)
  const live = await withConfigs(o.client, view.vms, { vmids: new Set(prepared.members.map((m) => m.vmid!)), tags: o.profile.tags })
  return planCluster({ profile: o.profile, config: o.config, owner: prepared.owner, members: prepared.members, live, nodes: view.nodes }).vms.every((v) => v.state === 'match')
}

/** Clone requests PVE accepted, per new VMID. */
export function acceptedClones(lab: Lab): Map<number, number> {
  const clones = new Map<number, number>()
  for (const r of mutatingRequests(lab.sim).slice(lab.since)) {
    if (r.method === 'POST' && /\/qemu\/\d+\/clone$/.test(r.path) && r.status === 200) clones.set(Number(r.params.newid), (clones.get(Number(r.params.newid)) ?? 0) + 1)
  }
  return clones
}

const MUTATING = new Set(['POST', 'PUT', 'DELETE'])
export const mutatingRequests = (sim: Simulator) => sim.requests.filter((r) => MUTATING.has(r.method) && !r.negative)
const vmidOfPath = (path: string) => Number(/\/qemu\/(\d+)(?:\/|$)/.exec(path)?.[1] ?? NaN)

/** What a finished cluster looks like, independent of MACs, digests and timestamps. */
export function fingerprint(lab: Lab): Record<number, string> {
  const out: Record<number, string> = {}
  for (const vm of lab.sim.control.state().vms.filter((v) => lab.vmids.includes(v.vmid))) {
    const c = vm.config as Record<string, unknown>
    out[vm.vmid] = [c.name, vm.node, vm.status, c.cores, c.memory, c.tags, c.ipconfig0, String(c.scsi0).replace(/^[^,]*,/, '')].join(' ')
  }
  return out
}

/**
 * The invariants of every run, finished or not: VMs only at the profile's VMIDs (besides the
 * inventory), all with the cluster's marker when they have a config (except `foreign`, a VM
 * someone else put at one of its VMIDs); no volume whose VM is gone
 * or that its VM does not reference; no mutating request at a VM outside the profile.
 */
export function assertInvariants(lab: Lab, clusterId: string | undefined, foreign?: number): void {
  const state = lab.sim.control.state()
  const inventory = lab.known
  const vms = new Map(state.vms.map((v) => [v.vmid, v]))
  for (const vm of state.vms) {
    if (inventory.has(vm.vmid) || vm.vmid === foreign) continue
    assert.ok(lab.vmids.includes(vm.vmid), `VM ${vm.vmid} is not one of the profile's`)
    const description = (vm.config as Record<string, unknown>).description as string | undefined
    if (clusterId && !(vm.config as Record<string, unknown>).lock) assert.ok(isOwnedBy(description, { cluster: lab.profile.name, clusterId }), `VM ${vm.vmid} lacks the owner marker`)
  }
  for (const vol of state.volumes) {
    const owner = Number(/(?:^|[:/])(?:vm|base)-(\d+)-/.exec(vol.volid)?.[1] ?? NaN)
    if (!Number.isFinite(owner) || inventory.has(owner) || owner === foreign) continue
    const vm = vms.get(owner)
    assert.ok(vm, `orphan volume ${vol.volid}: VM ${owner} does not exist`)
    assert.ok(Object.values(vm.config as Record<string, unknown>).some((v) => String(v).includes(vol.volid)), `orphan volume ${vol.volid}: not in the config of VM ${owner}`)
  }
  for (const r of mutatingRequests(lab.sim).slice(lab.since)) {
    const vmid = vmidOfPath(r.path)
    if (!Number.isFinite(vmid)) continue
    const isTemplateClone = /\/qemu\/(100|101)\/clone$/.test(r.path)
    assert.ok(lab.vmids.includes(vmid) || isTemplateClone, `${r.method} ${r.path}: a VM the cluster does not own`)
  }
}
