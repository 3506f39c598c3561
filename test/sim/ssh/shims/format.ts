// PVE::CLIFormatter: how pveum and pvesh print API results (`--output-format text|json|json-pretty|yaml`,
// `--noborder`, `--noheader`, `--human-readable`, `--quiet`).
import { createRequire } from 'node:module'
import type { PropSchema } from './apidoc.ts'

export const standardOutputOptions: Record<string, PropSchema> = {
  'output-format': { type: 'string', enum: ['text', 'json', 'json-pretty', 'yaml'], optional: 1, default: 'text' },
  noborder: { type: 'boolean', optional: 1 },
  noheader: { type: 'boolean', optional: 1 },
  quiet: { type: 'boolean', optional: 1 },
  'human-readable': { type: 'boolean', optional: 1, default: 1 },
}

export interface FormatOptions {
  'output-format'?: string
  noborder?: number
  noheader?: number
  quiet?: number
  'human-readable'?: number
}

/** Perl's JSON canonical mode: object keys sorted at every level. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(value).sort()) out[k] = canonical((value as Record<string, unknown>)[k])
    return out
  }
  return value
}

export function toJson(value: unknown, pretty = false): string {
  // JSON::PP pretty prints with three spaces.
  return pretty ? `${JSON.stringify(canonical(value), null, 3)}\n` : `${JSON.stringify(canonical(value))}\n`
}

const pad2 = (n: number) => String(n).padStart(2, '0')
const localTimestamp = (epoch: number) => {
  const d = new Date(epoch * 1000)
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`
}

const renderers: Record<string, (v: any) => string> = {
  timestamp: (v) => localTimestamp(Number(v)),
  timestamp_gmt: (v) => new Date(Number(v) * 1000).toISOString().replace('T', ' ').slice(0, 19),
  duration: (v) => {
    let rest = Number(v)
    const parts: string[] = []
    for (const [unit, len] of [['w', 604800], ['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
      const n = Math.floor(rest / len)
      if (n > 0) {
        parts.push(`${n}${unit}`)
        rest -= n * len
      }
    }
    return parts.join(' ')
  },
  fraction_as_percentage: (v) => `${(Number(v) * 100).toFixed(2)}%`,
  bytes: (v) => {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
    let value = Number(v)
    let unit = 0
    if (value > 1023) {
      unit = Math.floor(Math.log(value) / Math.log(1024))
      value /= 1024 ** unit
    }
    return `${value.toFixed(2)} ${units[unit]}`
  },
}

function dataToText(data: unknown, prop: PropSchema | undefined, opts: FormatOptions): string {
  if (data === undefined || data === null) return ''
  const human = opts['human-readable'] ?? 1
  if (human && prop) {
    if (prop.type === 'boolean') return data ? '1' : '0'
    if (prop.renderer && renderers[prop.renderer]) return renderers[prop.renderer](data)
  }
  if (typeof data === 'object') return JSON.stringify(canonical(data))
  return String(data)
}

function utf8Terminal(): boolean {
  const lang = process.env.LC_ALL || process.env.LC_CTYPE || process.env.LANG || ''
  return /utf-?8/i.test(lang)
}

function printTextTable(data: Record<string, unknown>[], props: Record<string, PropSchema>, columns: string[], opts: FormatOptions & { sortKey?: string | 0 }): string {
  const border = !opts.noborder
  const header = !opts.noheader
  const utf8 = utf8Terminal()
  const sortKey = opts.sortKey ?? columns[0]
  const rows = [...data]
  if (sortKey !== 0 && sortKey !== undefined) {
    const numeric = ['integer', 'number'].includes(props[sortKey]?.type ?? 'string')
    rows.sort((a, b) => (numeric ? Number(a[sortKey]) - Number(b[sortKey]) : String(a[sortKey] ?? '') < String(b[sortKey] ?? '') ? -1 : String(a[sortKey] ?? '') > String(b[sortKey] ?? '') ? 1 : 0))
  }
  const table = rows.map((entry) => {
    let height = 1
    const cells: Record<string, string[]> = {}
    for (const col of columns) {
      const lines = dataToText(entry[col], props[col], opts).split('\n')
      while (lines.length > 1 && lines[lines.length - 1] === '') lines.pop()
      height = Math.max(height, lines.length)
      cells[col] = lines
    }
    return { height, cells }
  })
  const widths = columns.map((col) => {
    const title = props[col]?.title ?? col
    let longest = title.length
    for (const row of table) for (const line of row.cells[col]) longest = Math.max(longest, line.length)
    const cutoff = props[col]?.print_width ?? props[col]?.maxLength
    return cutoff !== undefined && cutoff < longest ? cutoff : longest
  })
  const h = utf8 ? '─' : '-'
  const bar = (left: string, mid: string, right: string) => (utf8 ? left : '+') + widths.map((w) => h.repeat(w + 2)).join(utf8 ? mid : '+') + (utf8 ? right : '+')
  const line = (cells: string[]) => {
    if (!border) return cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join(' ')
    const v = utf8 ? '│' : '|'
    return `${v} ${cells.map((c, i) => c.padEnd(widths[i])).join(` ${v} `)} ${v}`
  }
  const out: string[] = []
  if (border) out.push(bar('┌', '┬', '┐'))
  if (header) out.push(line(columns.map((c) => props[c]?.title ?? c)))
  table.forEach((row, i) => {
    if (border && (i !== 0 || header)) out.push(bar('├', '┼', '┤'))
    for (let l = 0; l < row.height; l++) out.push(line(columns.map((c, ci) => (row.cells[c][l] ?? '').slice(0, widths[ci]))))
  })
  if (border) out.push(bar('└', '┴', '┘'))
  return out.map((l) => `${l}\n`).join('')
}

function propertiesToPrint(props: Record<string, PropSchema> | undefined): string[] {
  const entries = Object.entries(props ?? {})
  return [...entries.filter(([, p]) => !p.optional).map(([k]) => k).sort(), ...entries.filter(([, p]) => p.optional).map(([k]) => k).sort()]
}

function printApiList(data: Record<string, unknown>[], items: PropSchema | undefined, columns: string[] | undefined, opts: FormatOptions & { sortKey?: string | 0 }): string {
  const props = items?.properties ?? {}
  let cols = columns ?? propertiesToPrint(props)
  if (!cols.length) cols = [...new Set(data.flatMap((o) => Object.keys(o)))].sort()
  if (!cols.length) throw new Error('unable to detect list properties\n')
  return printTextTable(data, props, cols, opts)
}

/** PVE::CLIFormatter::print_api_result: the text for `data` as the CLIs print it. */
export function formatApiResult(data: unknown, returns: PropSchema | undefined, opts: FormatOptions, columns?: string[]): string {
  if (opts.quiet) return ''
  const schema = returns ?? {}
  if (schema.type === 'null') return ''
  const format = opts['output-format'] ?? 'text'
  if (format === 'json') return toJson(data)
  if (format === 'json-pretty') return toJson(data, true)
  if (format === 'yaml') {
    // Loaded on demand: the shims start fast without it.
    const { stringify } = createRequire(import.meta.url)('yaml') as typeof import('yaml')
    return `---\n${stringify(canonical(data))}`
  }
  if (schema.type === 'object' || (schema.type === undefined && data && typeof data === 'object' && !Array.isArray(data))) {
    const obj = (data ?? {}) as Record<string, unknown>
    let keys = columns ?? propertiesToPrint(schema.properties)
    if (!keys.length) keys = Object.keys(obj).sort()
    const kv = keys.filter((k) => obj[k] !== undefined && obj[k] !== null).map((k) => ({ key: k, value: dataToText(obj[k], schema.properties?.[k], opts) }))
    return printApiList(kv, { type: 'object' }, ['key', 'value'], opts)
  }
  if (schema.type === 'array' || Array.isArray(data)) {
    const list = (data ?? []) as unknown[]
    if (!list.length) return ''
    if (schema.items?.type === 'object' || (schema.items === undefined && typeof list[0] === 'object')) return printApiList(list as Record<string, unknown>[], schema.items, columns, opts)
    const rows = list.map((value) => ({ value }))
    return printApiList(rows, { type: 'object', properties: { value: schema.items ?? {} } }, ['value'], { ...opts, noheader: 1 })
  }
  return data === undefined || data === null ? '' : `${String(data)}\n`
}
