// Drift: what a check-mode run of pve-servers.yaml (--check --diff, JSON callback) says it would
// change, per host. Pure: parses the ansible.posix.json report.

interface HostResult {
  changed?: boolean
  failed?: boolean
  unreachable?: boolean
  skipped?: boolean
  msg?: string
  diff?: DiffEntry | DiffEntry[]
  results?: (HostResult & { _ansible_item_label?: unknown; item?: unknown })[]
}

interface DiffEntry {
  before_header?: string
  after_header?: string
  before?: unknown
  after?: unknown
}

interface JsonReport {
  plays?: { tasks?: { task: { name: string }; hosts: Record<string, HostResult> }[] }[]
  stats?: Record<string, { changed: number; failures: number; unreachable: number; ok: number }>
}

export interface DriftChange {
  task: string
  /** Loop items that would change (their labels), when the task loops. */
  items: string[]
  /** Files the diff names. */
  files: string[]
}

export interface HostDrift {
  host: string
  status: 'in sync' | 'drift' | 'failed' | 'unreachable'
  changes: DriftChange[]
  /** Why the host failed or was unreachable. */
  errors: string[]
}

export function parseJsonReport(stdout: string): JsonReport {
  // Warnings may precede the document (e.g. from the inventory script): the report is the first '{' line.
  const start = stdout.search(/^\{/m)
  if (start < 0) throw new Error('ansible-playbook printed no JSON report')
  return JSON.parse(stdout.slice(start)) as JsonReport
}

const label = (item: { _ansible_item_label?: unknown; item?: unknown }): string => {
  const v = item._ansible_item_label ?? item.item
  if (typeof v === 'string') return v
  if (v && typeof v === 'object' && 'name' in v) return String((v as { name: unknown }).name)
  return JSON.stringify(v)
}

function diffFiles(result: HostResult): string[] {
  const entries = [result.diff, ...(result.results ?? []).map((r) => r.diff)].flat().filter((d): d is DiffEntry => Boolean(d))
  // before_header names the file on the host; after_header may be the controller's rendered template.
  const files = entries.map((d) => d.before_header ?? d.after_header).filter((f): f is string => typeof f === 'string' && f.startsWith('/'))
  return [...new Set(files)]
}

/** One entry per host of the run, in the order of the stats. */
export function summarizeDrift(report: JsonReport): HostDrift[] {
  const hosts = new Map<string, HostDrift>()
  for (const host of Object.keys(report.stats ?? {})) hosts.set(host, { host, status: 'in sync', changes: [], errors: [] })
  const get = (host: string) => hosts.get(host) ?? hosts.set(host, { host, status: 'in sync', changes: [], errors: [] }).get(host)!
  for (const play of report.plays ?? []) {
    for (const task of play.tasks ?? []) {
      for (const [host, result] of Object.entries(task.hosts)) {
        const h = get(host)
        if (result.unreachable) {
          h.status = 'unreachable'
          h.errors.push(`${task.task.name}: ${result.msg ?? 'unreachable'}`)
        } else if (result.failed) {
          if (h.status !== 'unreachable') h.status = 'failed'
          h.errors.push(`${task.task.name}: ${result.msg ?? 'failed'}`)
        } else if (result.changed) {
          const items = (result.results ?? []).filter((r) => r.changed).map(label)
          h.changes.push({ task: task.task.name, items, files: diffFiles(result) })
          if (h.status === 'in sync') h.status = 'drift'
        }
      }
    }
  }
  return [...hosts.values()]
}

/** The per-host summary as text lines. */
export function formatDrift(hosts: HostDrift[]): string[] {
  const lines: string[] = []
  for (const h of hosts) {
    const n = h.changes.length
    lines.push(`${h.host}: ${h.status}${n ? ` (${n} change${n === 1 ? '' : 's'})` : ''}`)
    for (const c of h.changes) {
      const detail = [...c.items, ...c.files.filter((f) => !c.items.includes(f))]
      lines.push(`  ~ ${c.task}${detail.length ? `: ${detail.join(', ')}` : ''}`)
    }
    for (const e of h.errors) lines.push(`  ! ${e}`)
  }
  return lines
}
