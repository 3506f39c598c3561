// Node maintenance: applying an evacuation plan (HA guests through PVE's HA node maintenance,
// the others by hand with bounded parallelism) and returning the guests afterwards.
import { ConflictError, RefusedError, TaskFailedError } from '../errors.ts'
import type { PveClient } from '../pve/client.ts'
import { listResources } from '../pve/resources.ts'
import { waitForTask } from '../pve/tasks.ts'
import { ActiveTaskWatch } from '../vm/task-watch.ts'
import { assertPrivileges, vmRequirements, type Requirement } from '../vm/permissions.ts'
import { applyMoves, type ApplyResult, type MoveEvent } from './apply.ts'
import { locateGuest, migrateGuest, toGuestRef } from './migrate.ts'
import { planReturn, writeJournal, type Journal, type Move, type Plan } from './plan.ts'
import { sshRun, type SshTarget } from './ssh.ts'

export interface MaintenanceOptions {
  parallel: number
  memReserve: number
  defaultStorage?: string
  bwlimit?: number
  journalPath: string
  /** SSH target for ha-manager (any node of the cluster) */
  ssh: () => SshTarget
  onEvent?: (e: MoveEvent) => void
  onInfo?: (msg: string) => void
  haTimeoutMs?: number
}

/** A plan is stale when the node now holds guests the plan does not know about. */
export async function assertPlanCurrent(client: PveClient, plan: Plan): Promise<void> {
  const rows = await listResources(client, 'vm')
  const known = new Set([...plan.moves, ...plan.blocked, ...plan.skipped, ...plan.ha.guests].map((g) => g.vmid))
  const unknown = rows.filter((r) => r.node === plan.node && !known.has(Number(r.vmid)) && (r.type === 'qemu' || r.type === 'lxc'))
  if (unknown.length)
    throw new ConflictError(`plan is stale: ${plan.node} now holds guests it does not cover (${unknown.map((r) => r.vmid).join(', ')})`, `plan again: task pve:node:evacuate NODE=${plan.node} -- --plan-file <file>`)
}

function runner(client: PveClient, opts: MaintenanceOptions) {
  // one read of the node's active tasks per tick covers every migration running there
  const wait = new ActiveTaskWatch(client, (upid, o) => waitForTask(client, upid, { timeoutMs: o?.timeoutMs, onLog: o?.onLog })).wait
  return {
    locate: async (vmid: number) => locateGuest(client, vmid),
    migrate: async (m: Move, onUpid: (u: string) => void) => {
      const g = await locateGuest(client, m.vmid)
      if (!g) throw new Error(`VM ${m.vmid} no longer exists`)
      const r = await migrateGuest(client, g, {
        target: m.to,
        online: 'auto',
        targetStorage: m.targetStorage,
        bwlimit: opts.bwlimit,
        policy: { memReserve: opts.memReserve },
        defaultStorage: opts.defaultStorage,
        onUpid,
        wait,
      })
      return r.upid ?? ''
    },
  }
}

/**
 * Permission preflight before the first migration: VM.Migrate on every guest that moves (or its
 * pool), Datastore.AllocateSpace on the storages local disks are moved to. A token that may move
 * only some guests fails here, naming what is missing, instead of half-way through the node.
 */
export async function assertCanMigrate(client: PveClient, moves: Move[]): Promise<void> {
  if (!moves.length) return
  const pools = new Map((await listResources(client, 'vm')).map((r) => [Number(r.vmid), r.pool]))
  const storages = [...new Set(moves.flatMap((m) => (m.targetStorage ? [m.targetStorage] : [])))]
  const reqs: Requirement[] = [
    ...vmRequirements(moves.map((m) => ({ vmid: m.vmid, pool: pools.get(m.vmid) })), 'VM.Migrate'),
    ...storages.map((s) => ({ path: `/storage/${s}`, privilege: 'Datastore.AllocateSpace' })),
  ]
  await assertPrivileges(client, reqs)
}

export async function applyEvacuation(client: PveClient, journal: Journal, opts: MaintenanceOptions): Promise<ApplyResult> {
  const save = (j: Journal) => writeJournal(opts.journalPath, j)
  await assertCanMigrate(client, journal.moves.filter((m) => journal.steps[String(m.vmid)]?.status !== 'done'))
  if (journal.ha.maintenance && !journal.ha.enabled) {
    opts.onInfo?.(`enabling HA node maintenance on ${journal.node}: HA moves its ${journal.ha.guests.length} guest(s)`)
    await sshRun(opts.ssh(), `ha-manager crm-command node-maintenance enable ${journal.node}`)
    journal.ha.enabled = true
    await save(journal)
  }
  const result = await applyMoves(journal, journal.moves, { parallel: opts.parallel, runner: runner(client, opts), save, onEvent: opts.onEvent })
  if (journal.ha.enabled && result.failed.length === 0) await waitForHa(client, journal, (node) => node !== journal.node, opts, 'leave')
  return result
}

export async function returnGuests(client: PveClient, journal: Journal, opts: MaintenanceOptions): Promise<ApplyResult & { notes: string[] }> {
  const save = (j: Journal) => writeJournal(opts.journalPath, j)
  const rows = await listResources(client, 'vm')
  const where = new Map(rows.filter((r) => r.vmid !== undefined).map((r) => [Number(r.vmid), toGuestRef(r)]))
  const back = planReturn(journal, (vmid) => where.get(vmid))
  const nodes = await listResources(client, 'node')
  if (back.moves.length && nodes.find((n) => n.node === journal.node)?.status !== 'online') throw new RefusedError(`${journal.node} is not online: nothing can return to it yet`)
  await assertCanMigrate(client, back.moves)
  if (journal.ha.enabled) {
    opts.onInfo?.(`disabling HA node maintenance on ${journal.node}: HA brings its guests back`)
    await sshRun(opts.ssh(), `ha-manager crm-command node-maintenance disable ${journal.node}`)
    journal.ha.enabled = false
    await save(journal)
  }
  const result = await applyMoves(journal, back.moves, { parallel: opts.parallel, runner: runner(client, opts), save, onEvent: opts.onEvent, doneStatus: 'returned' })
  if (journal.ha.maintenance && result.failed.length === 0) await waitForHa(client, journal, (node) => node === journal.node, opts, 'return')
  return { ...result, notes: back.notes }
}

async function waitForHa(client: PveClient, journal: Journal, ok: (node: string) => boolean, opts: MaintenanceOptions, what: 'leave' | 'return'): Promise<void> {
  if (!journal.ha.guests.length) return
  const deadline = Date.now() + (opts.haTimeoutMs ?? 30 * 60_000)
  let pollMs = 200
  for (;;) {
    const pending: number[] = []
    for (const vmid of journal.ha.guests) {
      const g = await locateGuest(client, vmid)
      if (g && (!ok(g.node) || g.lock)) pending.push(vmid)
    }
    if (!pending.length) return
    if (Date.now() > deadline)
      throw new TaskFailedError(`HA did not ${what === 'leave' ? 'move' : 'bring back'} VM(s) ${pending.join(', ')} in time`, { hint: 'check: ha-manager status' })
    await new Promise((r) => setTimeout(r, pollMs))
    pollMs = Math.min(pollMs * 2, 3000)
  }
}
