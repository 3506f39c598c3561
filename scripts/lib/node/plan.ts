// The evacuation plan file (reviewable, diffable, applied later) and the journal that makes `apply`
// resumable and lets `return` bring every guest back to the node it came from.
import { access, mkdir, rename, writeFile } from 'node:fs/promises'
import { dirname, extname, join } from 'node:path'
import { stringify } from 'yaml'
import { z } from 'zod'
import { loadYamlFile } from '../config.ts'

const label = { vmid: z.number().int().min(100), name: z.string(), type: z.enum(['qemu', 'lxc']) }

const moveSchema = z.strictObject({
  ...label,
  from: z.string().min(1).describe('origin node, where `return` brings the guest back'),
  to: z.string().min(1),
  mode: z.enum(['online', 'offline', 'restart']).describe('online: live; offline: stopped guest; restart: container restart migration'),
  withLocalDisks: z.boolean().default(false),
  targetStorage: z.string().min(1).optional(),
  memory: z.number().int().min(0).describe('bytes'),
  cores: z.number().min(0),
  diskBytes: z.number().int().min(0).default(0).describe('local disk bytes that travel with the guest'),
})

export const PlanSchema = z
  .strictObject({
    kind: z.literal('evacuation-plan'),
    version: z.literal(1),
    node: z.string().min(1),
    createdAt: z.string(),
    policy: z.strictObject({ memReserve: z.number().min(0).max(0.9), cpuFactor: z.number().positive(), strategy: z.enum(['spread', 'first-fit']) }),
    moves: z.array(moveSchema),
    ha: z.strictObject({
      maintenance: z.boolean(),
      guests: z.array(z.strictObject({ ...label, status: z.string(), hastate: z.string() })),
    }),
    blocked: z.array(z.strictObject({ ...label, reason: z.string() })),
    skipped: z.array(z.strictObject({ ...label, reason: z.string() })),
  })
  .superRefine((plan, ctx) => {
    plan.moves.forEach((m, i) => {
      if (m.to === plan.node) ctx.addIssue({ code: 'custom', path: ['moves', i, 'to'], message: `a guest cannot move to the node being evacuated (${plan.node})` })
      if (m.from === m.to) ctx.addIssue({ code: 'custom', path: ['moves', i, 'to'], message: 'target equals origin' })
    })
    const ids = plan.moves.map((m) => m.vmid)
    ids.forEach((id, i) => {
      if (ids.indexOf(id) !== i) ctx.addIssue({ code: 'custom', path: ['moves', i, 'vmid'], message: `VM ${id} is planned twice` })
    })
  })

export type EvacuationPlan = z.input<typeof PlanSchema>
export type Plan = z.output<typeof PlanSchema>
export type PlannedMove = z.input<typeof moveSchema>
export type Move = z.output<typeof moveSchema>
export type Blocked = Plan['blocked'][number]
export type Skipped = Plan['skipped'][number]
export type HaGuest = Plan['ha']['guests'][number]

/** Reads a plan file (YAML or JSON); problems come back as file:line:col field: message. */
export function readPlan(path: string): Promise<Plan> {
  return loadYamlFile(path, PlanSchema)
}

/** Writes a plan as JSON (.json) or YAML (anything else). */
export async function writePlan(path: string, plan: EvacuationPlan): Promise<void> {
  const text = extname(path) === '.json' ? JSON.stringify(plan, null, 2) + '\n' : `# Evacuation plan for ${plan.node}: review, then \`task pve:node:apply PLAN=${path}\`\n${stringify(plan)}`
  await atomicWrite(path, text)
}

// ---------------------------------------------------------------------------------------------
// Journal: one file per evacuated node under the state directory. It records the plan's moves
// with their progress, so an interrupted apply resumes and `return` knows every origin.

const stepSchema = z.strictObject({
  status: z.enum(['pending', 'running', 'done', 'failed', 'returned']),
  upid: z.string().optional(),
  error: z.string().optional(),
  at: z.string().optional(),
})

export const JournalSchema = z.strictObject({
  kind: z.literal('evacuation-journal'),
  node: z.string(),
  planFile: z.string().optional(),
  moves: z.array(moveSchema),
  steps: z.record(z.string(), stepSchema),
  ha: z.strictObject({ maintenance: z.boolean(), enabled: z.boolean(), guests: z.array(z.number().int()) }),
})
export type Journal = z.output<typeof JournalSchema>
export type Step = z.output<typeof stepSchema>

export const stateDir = () => process.env.PM_STATE_DIR ?? '.state'
export const journalPath = (cluster: string, node: string) => join(stateDir(), 'evacuations', cluster, `${node}.json`)

export async function readJournal(path: string): Promise<Journal | undefined> {
  try {
    await access(path)
  } catch {
    return undefined
  }
  return loadYamlFile(path, JournalSchema)
}

export function newJournal(plan: Plan, planFile?: string): Journal {
  return {
    kind: 'evacuation-journal',
    node: plan.node,
    planFile,
    moves: plan.moves,
    steps: Object.fromEntries(plan.moves.map((m) => [String(m.vmid), { status: 'pending' as const }])),
    ha: { maintenance: plan.ha.maintenance, enabled: false, guests: plan.ha.guests.map((g) => g.vmid) },
  }
}

export async function writeJournal(path: string, journal: Journal): Promise<void> {
  await atomicWrite(path, JSON.stringify(journal, null, 2) + '\n')
}

async function atomicWrite(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, text, { mode: 0o644 })
  await rename(tmp, path)
}

// ---------------------------------------------------------------------------------------------
// Return: the reverse of the moves that were applied, for guests still where we put them.

export interface Location {
  node: string
  status: string
  lock?: string
}

export interface ReturnPlan {
  moves: Move[]
  notes: string[]
}

export function planReturn(journal: Journal, locate: (vmid: number) => Location | undefined): ReturnPlan {
  const moves: Move[] = []
  const notes: string[] = []
  for (const m of journal.moves) {
    const step = journal.steps[String(m.vmid)]
    if (step?.status !== 'done') {
      if (step?.status !== 'returned') notes.push(`VM ${m.vmid}: was not moved (${step?.status ?? 'unknown'}), nothing to return`)
      continue
    }
    const at = locate(m.vmid)
    if (!at) {
      notes.push(`VM ${m.vmid}: no longer exists, skipped`)
      continue
    }
    if (at.node === m.from) {
      notes.push(`VM ${m.vmid}: already on ${m.from}`)
      continue
    }
    if (at.node !== m.to) {
      notes.push(`VM ${m.vmid}: now on ${at.node}, not on ${m.to} where the evacuation put it; left alone`)
      continue
    }
    const running = at.status === 'running' || at.status === 'paused'
    moves.push({
      ...m,
      from: at.node,
      to: m.from,
      mode: running ? (m.type === 'lxc' ? 'restart' : 'online') : 'offline',
      withLocalDisks: running && m.type === 'qemu' && m.diskBytes > 0,
      // back to the storage the disks came from: PVE maps them by name when it exists on the origin
      targetStorage: undefined,
    })
  }
  return { moves, notes }
}
