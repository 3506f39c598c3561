#!/usr/bin/env node
// Benchmark: creating and tearing down a whole cluster on the simulator (PVE's durations scaled by
// --time-factor), for a 3 CP + 3 worker profile and a 20-VM one, in one run:
//   - ours: the engine of pve:cluster:create / teardown (parallel under limits.per_node/per_storage)
//   - the seed's serial runbook: clone, (move), configure, resize, start one VM after the other;
//     shutdown and delete one after the other
//   - Ansible's way: community.proxmox.proxmox_kvm in a playbook loop (clone, update, start;
//     stopped, absent), on the 6-VM profile
// each against the simulator's lower bound for the same steps (control.lowerBound), with the
// requests sent per VM. Every contender polls tasks on PVE's time scale (0.5 s growing to 2 s).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { z } from 'zod'
import { runCommand } from '../scripts/lib/cli.ts'
import { loadClusterConfig } from '../scripts/lib/config.ts'
import { createClient } from '../scripts/lib/context.ts'
import { info, renderTable } from '../scripts/lib/output.ts'
import { loadProfile } from '../scripts/lib/profile.ts'
import { apiPath, type PveClient } from '../scripts/lib/pve/client.ts'
import { waitForTask } from '../scripts/lib/pve/tasks.ts'
import { registerSecret } from '../scripts/lib/secrets.ts'
import { ClusterJournal } from '../scripts/lib/cluster/journal.ts'
import { createJobs, prepareCreate, prepareTeardown, runJobs, teardownJobs, verifyTornDown, type EngineOptions } from '../scripts/lib/cluster/engine.ts'
import type { DesiredVm } from '../scripts/lib/cluster/plan.ts'
import { startSimulator, type Simulator } from '../test/sim/index.ts'
import type { PlanStep } from '../test/sim/control.ts'

const ROOT = resolve(import.meta.dirname, '..')
const VENV_BIN = join(ROOT, '.tools', 'venv', 'bin')
const TEMPLATE = 101

interface Row {
  profile: string
  approach: string
  create: number
  createBound: number
  teardown: number
  teardownBound: number
  createRequests: number
  teardownRequests: number
  vms: number
  /** VMs per node. */
  perNode: Map<string, number>
  /** Waves of deletes on the busiest node, and the bound at the tool's limits (ours only). */
  deleteWaves?: number
  limitedTeardownBound?: number
}

function profileYaml(name: string, base: number, workers: number): string {
  return `name: ${name}
type: generic
nodes:
  controlplane: { count: 3, name_prefix: ${name}-cp, start_vmid: ${base + 1}, cores: 2, memory: 2048, disk: 20G, placement: spread }
  workers: { count: ${workers}, name_prefix: ${name}-w, start_vmid: ${base + 11}, cores: 2, memory: 2048, disk: 20G, placement: spread }
template: ${TEMPLATE}
tags: [${name}]
`
}

await runCommand({
  name: 'bench:cluster',
  summary: 'Benchmark cluster create and teardown (6 and 20 VMs): makespan vs. the simulator lower bound, the serial runbook and Ansible',
  options: z.strictObject({
    timeFactor: z.coerce.number().positive().default(0.1).describe('simulated seconds -> wall clock'),
    ansible: z.boolean().default(true).describe('run the Ansible contender (6-VM profile) when .tools/venv has it'),
  }),
  async run(o) {
    const dir = mkdtempSync(join(tmpdir(), 'pm-bench-cluster-'))
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
    const sim = await startSimulator({ inventory: 'sandbox', timeFactor: o.timeFactor })
    registerSecret(sim.rootToken.secret)
    process.env.PVE_TOKEN_ID = sim.rootToken.id
    process.env.PVE_TOKEN_SECRET = sim.rootToken.secret
    const config = await loadClusterConfig(sim.writeClusterConfig(join(dir, 'cluster-config.yaml')))
    const client = createClient(config)
    mkdirSync(join(dir, 'clusters'))
    // PVE's polling cadence in simulated time: the first poll after 0.5 s, growing to 2 s.
    const pollMs = 500 * o.timeFactor
    const maxPollMs = 2000 * o.timeFactor
    const simSeconds = (ms: number) => ms / 1000 / o.timeFactor
    const rows: Row[] = []

    const measure = async (body: () => Promise<void>) => {
      const before = sim.requests.length
      const started = performance.now()
      await body()
      await sim.control.idle()
      return { seconds: simSeconds(performance.now() - started), requests: sim.requests.length - before }
    }

    for (const [name, base, workers] of [['bench6', 6000, 3], ['bench20', 6100, 17]] as const) {
      writeFileSync(join(dir, 'clusters', `${name}.yaml`), profileYaml(name, base, workers))
      const profile = await loadProfile(name, config, { dir: join(dir, 'clusters') })
      const vms = 3 + workers
      const engine = (): EngineOptions => ({ client, config, profile, journal: new ClusterJournal(name, join(dir, 'state')), pollMs, maxPollMs, retryBaseMs: 2000 * o.timeFactor })

      // ours
      let desired: DesiredVm[] = []
      const oursCreate = await measure(async () => {
        const prepared = await prepareCreate(engine(), { persist: true })
        desired = prepared.plan.vms.map((v) => v.desired)
        const failures = await runJobs(createJobs(engine(), prepared), () => {})
        if (failures.length) throw new Error(`create failed: ${failures.map((f) => `${f.vm}: ${(f.error as Error).message}`).join('; ')}`)
      })
      const createBound = sim.control.lowerBound(createChains(sim, desired)).seconds
      const teardownBound = sim.control.lowerBound(desired.map(() => [{ op: 'shutdown' }, { op: 'destroy' }] as PlanStep[])).seconds
      const oursTeardown = await measure(async () => {
        const prepared = await prepareTeardown(engine(), { persist: true })
        const failures = await runJobs(teardownJobs(engine(), prepared, { shutdownTimeoutSeconds: 60 }), () => {})
        if (failures.length || (await verifyTornDown(engine(), prepared)).length) throw new Error(`teardown failed: ${JSON.stringify(failures)}`)
      })
      const perNode = new Map<string, number>()
      for (const d of desired) perNode.set(d.node, (perNode.get(d.node) ?? 0) + 1)
      // The simulator's bound ignores the tool's limits. Shutdowns take no slot; each delete holds a
      // node slot and a slot of the node's local storage, so a node's deletes run in waves.
      const deleteSlots = Math.min(config.limits.per_node, config.limits.per_storage)
      const deleteWaves = Math.max(...[...perNode.values()].map((n) => Math.ceil(n / deleteSlots)))
      const limitedTeardownBound = sim.control.lowerBound([[{ op: 'shutdown' }]]).seconds + deleteWaves * sim.control.lowerBound([[{ op: 'destroy' }]]).seconds
      rows.push({ ...row(name, 'ours (parallel, limits)', vms, oursCreate, oursTeardown, createBound, teardownBound), perNode, deleteWaves, limitedTeardownBound })

      // the seed's serial runbook, the same steps one after another
      const serialCreate = await measure(() => serialRunbookCreate(client, desired, config.defaults.storage, pollMs, maxPollMs))
      const serialTeardown = await measure(() => serialRunbookTeardown(client, desired, pollMs, maxPollMs))
      rows.push(row(name, "seed's serial runbook", vms, serialCreate, serialTeardown, createBound, teardownBound))

      // Ansible (the 6-VM profile: a Python process per task makes it slow to run)
      if (o.ansible && vms === 6) {
        if (!existsSync(join(VENV_BIN, 'ansible-playbook'))) info('Ansible is not installed in .tools/venv (bash scripts/setup.sh): its rows are left out')
        else {
          const vars = (phase: string) => {
            const file = join(dir, `ansible-${phase}.json`)
            writeFileSync(file, JSON.stringify({ phase, template: TEMPLATE, template_name: 'talos-v1.11.5', storage: config.defaults.storage, vms: desired.map((d) => ({ vmid: d.vmid, name: d.name, node: d.node, cores: d.cores, memory: d.memory, disk: d.disk, ipconfig0: d.ipconfig0, tags: d.tags, description: d.description })) }))
            return file
          }
          const ansibleCreate = await measure(() => ansiblePlaybook(sim, vars('create')))
          const ansibleTeardown = await measure(() => ansiblePlaybook(sim, vars('teardown')))
          rows.push(row(name, 'Ansible proxmox_kvm loop', vms, ansibleCreate, ansibleTeardown, createBound, teardownBound))
        }
      }
    }

    process.stdout.write(`Cluster create and teardown on the simulator (template ${TEMPLATE}, 10 GiB disk on local-lvm of pve1; VMs spread over 3 nodes), time factor ${o.timeFactor}; times in simulated seconds\n\n`)
    process.stdout.write(
      renderTable(rows, [
        { header: 'profile', value: (r) => r.profile },
        { header: 'approach', value: (r) => r.approach },
        { header: 'create s', value: (r) => r.create.toFixed(1), align: 'right' },
        { header: 'bound s', value: (r) => r.createBound.toFixed(1), align: 'right' },
        { header: 'x bound', value: (r) => `${(r.create / r.createBound).toFixed(2)}x`, align: 'right' },
        { header: 'teardown s', value: (r) => r.teardown.toFixed(1), align: 'right' },
        { header: 'bound s', value: (r) => r.teardownBound.toFixed(1), align: 'right' },
        { header: 'x bound', value: (r) => `${(r.teardown / r.teardownBound).toFixed(2)}x`, align: 'right' },
        { header: 'req/VM create', value: (r) => (r.createRequests / r.vms).toFixed(1), align: 'right' },
        { header: 'req/VM teardown', value: (r) => (r.teardownRequests / r.vms).toFixed(1), align: 'right' },
      ]) + '\n',
    )
    for (const r of rows.filter((x) => x.approach.startsWith('ours') && (x.deleteWaves ?? 1) > 1)) {
      process.stdout.write(`${r.profile}: up to ${Math.max(...r.perNode.values())} VMs on a node delete in ${r.deleteWaves} waves (limits.per_node=${config.limits.per_node}, per_storage=${config.limits.per_storage}) after the shutdowns: bound ${r.limitedTeardownBound!.toFixed(1)} s at those limits; ours ${(r.teardown / r.limitedTeardownBound!).toFixed(2)}x of it\n`)
    }
    const ours = rows.filter((r) => r.approach.startsWith('ours'))
    for (const r of rows.filter((x) => !x.approach.startsWith('ours'))) {
      const o2 = ours.find((x) => x.profile === r.profile)!
      process.stdout.write(`${r.profile}: ${r.approach} / ours = create ${(r.create / o2.create).toFixed(2)}x, teardown ${(r.teardown / o2.teardown).toFixed(2)}x\n`)
    }
    process.stdout.write(
      '\nThe lower bound (control.lowerBound) is per chain of steps (clone, move, configure, resize, start; shutdown, delete) under the simulator\'s\n' +
        'storage bandwidth and clone lock rules; it does not count the tool\'s limits.per_node/per_storage.\n' +
        `Times are wall clock / time factor: a client's own overhead (process start, Python per Ansible task) counts ${(1 / o.timeFactor).toFixed(0)}x here.\n`,
    )
    await sim.stop()
  },
})

function row(profile: string, approach: string, vms: number, create: { seconds: number; requests: number }, teardown: { seconds: number; requests: number }, createBound: number, teardownBound: number): Row {
  return { profile, approach, vms, create: create.seconds, teardown: teardown.seconds, createRequests: create.requests, teardownRequests: teardown.requests, createBound, teardownBound, perNode: new Map() }
}

/** The steps create takes for each VM: a full clone on the template's node, a move, configure, resize, start. */
function createChains(sim: Simulator, desired: DesiredVm[]): PlanStep[][] {
  const templateNode = sim.control.state().vms.find((v) => v.vmid === TEMPLATE)!.node
  return desired.map((d) => [
    { op: 'clone', from: TEMPLATE, full: true, storage: 'local-lvm' },
    ...(d.node !== templateNode ? [{ op: 'migrate' as const, vmid: d.vmid, target: d.node }] : []),
    { op: 'config' },
    { op: 'resize' },
    { op: 'start' },
  ])
}

async function serialRunbookCreate(client: PveClient, desired: DesiredVm[], storage: string, pollMs: number, maxPollMs: number): Promise<void> {
  const wait = (upid: string | null) => (upid ? waitForTask(client, upid, { pollMs, maxPollMs, quiet: true }) : undefined)
  const templateNode = 'pve1'
  for (const d of desired) {
    await wait(await client.post<string>(apiPath`/nodes/${templateNode}/qemu/${TEMPLATE}/clone`, { newid: d.vmid, name: d.name, full: 1, storage, description: d.description }))
    if (d.node !== templateNode) await wait(await client.post<string>(apiPath`/nodes/${templateNode}/qemu/${d.vmid}/migrate`, { target: d.node }))
    await client.put(apiPath`/nodes/${d.node}/qemu/${d.vmid}/config`, { cores: d.cores, memory: d.memory, ipconfig0: d.ipconfig0, tags: d.tags.join(';') })
    await wait(await client.put<string | null>(apiPath`/nodes/${d.node}/qemu/${d.vmid}/resize`, { disk: 'scsi0', size: d.disk }))
    await wait(await client.post<string>(apiPath`/nodes/${d.node}/qemu/${d.vmid}/status/start`))
  }
}

async function serialRunbookTeardown(client: PveClient, desired: DesiredVm[], pollMs: number, maxPollMs: number): Promise<void> {
  const wait = (upid: string | null) => (upid ? waitForTask(client, upid, { pollMs, maxPollMs, quiet: true }) : undefined)
  for (const d of desired) {
    await wait(await client.post<string>(apiPath`/nodes/${d.node}/qemu/${d.vmid}/status/shutdown`, { timeout: 60 }))
    await wait(await client.delete<string>(apiPath`/nodes/${d.node}/qemu/${d.vmid}`, { purge: 1, 'destroy-unreferenced-disks': 1 }))
  }
}

function ansiblePlaybook(sim: Simulator, varsFile: string): Promise<void> {
  const host = sim.nodes[0]
  const env = {
    PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8',
    PROXMOX_HOST: host.host, PROXMOX_PORT: String(host.port), PROXMOX_USER: sim.rootToken.id.split('!')[0],
    PROXMOX_TOKEN_ID: sim.rootToken.id.split('!')[1], PROXMOX_TOKEN_SECRET: sim.rootToken.secret,
    PROXMOX_VALIDATE_CERTS: 'true', REQUESTS_CA_BUNDLE: sim.caFile, ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCALHOST_WARNING: 'false',
  }
  const args = ['-i', 'localhost,', '-c', 'local', '-e', `ansible_python_interpreter=${join(VENV_BIN, 'python')}`, '-e', `@${varsFile}`, join(ROOT, 'bench/cluster-ansible.yml')]
  return new Promise((done, fail) => {
    const child = spawn(join(VENV_BIN, 'ansible-playbook'), args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('error', fail)
    child.on('close', (code) => (code === 0 ? done() : fail(new Error(`ansible-playbook exited ${code}: ${out.slice(-1500)}`))))
  })
}
