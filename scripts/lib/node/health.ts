// Cluster sanity checks in the style of pvecontrol's sanitycheck: each check reports CRIT, WARN
// or INFO findings (or one OK line), and any CRIT makes the command exit non-zero.
import { volumesOfConfig } from '../storage/volumes.ts'

export type Severity = 'CRIT' | 'WARN' | 'INFO' | 'OK'

export interface Finding {
  check: string
  severity: Severity
  subject: string
  message: string
}

export interface HealthNode {
  name: string
  online: boolean
  maxmem: number
  maxcpu: number
}

export interface HealthGuest {
  vmid: number
  name?: string
  node: string
  status: string
  template: boolean
  maxmem: number
  maxcpu: number
  hastate?: string
  pool?: string
  config: Record<string, unknown>
}

export interface BackupJob {
  id: string
  enabled?: number | boolean
  all?: number | boolean
  vmid?: string
  exclude?: string
  pool?: string
  node?: string
}

export interface HealthInput {
  nodes: HealthNode[]
  guests: HealthGuest[]
  /** storage id → shared? (a storage is shared if any listing says so) */
  sharedStorages: Set<string>
  /** undefined when the jobs could not be read (the reason is in `backupJobsError`) */
  backupJobs?: BackupJob[]
  backupJobsError?: string
  /** newest backup time (epoch seconds) per VMID */
  lastBackup: Map<number, number>
  now: number // epoch seconds
  policy: { cpuFactor: number; memWarn: number; backupMaxAgeDays: number }
}

export const CHECKS = ['nodes', 'ha-local-disks', 'ha-cpu-host', 'memory-overcommit', 'cpu-overcommit', 'onboot', 'unused-disks', 'backup-coverage', 'backup-age'] as const

const isRunning = (g: HealthGuest) => g.status === 'running' || g.status === 'paused'
const haManaged = (g: HealthGuest) => !!g.hastate && g.hastate !== 'ignored'
const vmLabel = (g: HealthGuest) => `VM ${g.vmid}${g.name ? ` (${g.name})` : ''}`
const list = (s: string | undefined) => (s ?? '').split(/[,;\s]+/).filter(Boolean)

export function coveredBy(g: HealthGuest, jobs: BackupJob[]): BackupJob | undefined {
  return jobs.find((j) => {
    if (j.enabled === 0 || j.enabled === false) return false
    if (j.node && j.node !== g.node) return false
    if (j.all === 1 || j.all === true) return !list(j.exclude).includes(String(g.vmid))
    if (j.pool) return g.pool === j.pool
    return list(j.vmid).includes(String(g.vmid))
  })
}

export function runHealthChecks(input: HealthInput): Finding[] {
  const f: Finding[] = []
  const add = (check: string, severity: Severity, subject: string, message: string) => f.push({ check, severity, subject, message })
  const guests = input.guests.filter((g) => !g.template)

  for (const n of input.nodes) if (!n.online) add('nodes', 'CRIT', n.name, 'node is offline')

  for (const g of guests.filter(haManaged)) {
    const local = volumesOfConfig(g.config).filter((v) => !v.unused && !input.sharedStorages.has(v.storage) && !(v.cdrom && /cloudinit/.test(v.volid)))
    if (local.length) add('ha-local-disks', 'CRIT', vmLabel(g), `HA-managed but uses local storage (${local.map((v) => v.volid).join(', ')}): HA cannot recover it on another node`)
    if (String(g.config.cpu ?? '').split(',')[0].replace(/^cputype=/, '') === 'host')
      add('ha-cpu-host', 'WARN', vmLabel(g), 'HA-managed with cpu=host: live migration to a node with a different CPU can fail')
  }

  for (const n of input.nodes) {
    const running = guests.filter((g) => g.node === n.name && isRunning(g))
    const mem = running.reduce((s, g) => s + g.maxmem, 0)
    const ratio = n.maxmem ? mem / n.maxmem : 0
    if (ratio > 1) add('memory-overcommit', 'CRIT', n.name, `running guests are assigned ${pct(ratio)} of the node's memory`)
    else if (ratio > input.policy.memWarn) add('memory-overcommit', 'WARN', n.name, `running guests are assigned ${pct(ratio)} of the node's memory (warning above ${pct(input.policy.memWarn)})`)
    const vcpus = running.reduce((s, g) => s + g.maxcpu, 0)
    if (n.maxcpu && vcpus > n.maxcpu * input.policy.cpuFactor)
      add('cpu-overcommit', 'WARN', n.name, `${vcpus} vCPUs on ${n.maxcpu} CPUs: above the ${input.policy.cpuFactor}x overcommit factor`)
  }

  for (const g of guests) {
    if (haManaged(g)) continue // HA decides the state, onboot is irrelevant
    const onboot = Number(g.config.onboot ?? 0) === 1
    if (isRunning(g) && !onboot) add('onboot', 'WARN', vmLabel(g), 'running but onboot=0: it stays off after a node reboot')
    else if (!isRunning(g) && onboot) add('onboot', 'WARN', vmLabel(g), `${g.status} but onboot=1: it starts on the next node boot`)
  }

  for (const g of guests) {
    const unused = volumesOfConfig(g.config).filter((v) => v.unused)
    if (unused.length) add('unused-disks', 'WARN', vmLabel(g), `unused disks: ${unused.map((v) => `${v.key}=${v.volid}`).join(', ')} (see task pve:disks:orphans)`)
  }

  const maxAge = input.policy.backupMaxAgeDays * 86400
  const jobs = input.backupJobs
  if (!jobs) add('backup-coverage', 'WARN', '-', `cannot check: backup jobs unreadable (${input.backupJobsError ?? 'unknown error'})`)
  for (const g of jobs ? guests : []) {
    const job = coveredBy(g, jobs ?? [])
    const last = input.lastBackup.get(g.vmid)
    if (!job) {
      add('backup-coverage', 'WARN', vmLabel(g), 'not covered by any enabled backup job')
      continue
    }
    if (last === undefined) add('backup-age', 'WARN', vmLabel(g), `covered by job ${job.id} but no backup found`)
    else if (input.now - last > maxAge)
      add('backup-age', 'WARN', vmLabel(g), `newest backup is ${Math.floor((input.now - last) / 86400)} days old (limit ${input.policy.backupMaxAgeDays})`)
  }

  for (const check of CHECKS) if (!f.some((x) => x.check === check)) add(check, 'OK', '-', 'no problems found')
  const order: Record<Severity, number> = { CRIT: 0, WARN: 1, INFO: 2, OK: 3 }
  return f.sort((a, b) => CHECKS.indexOf(a.check as never) - CHECKS.indexOf(b.check as never) || order[a.severity] - order[b.severity] || a.subject.localeCompare(b.subject))
}

const pct = (r: number) => `${Math.round(r * 100)}%`
