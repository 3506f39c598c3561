// Listing output: a table for people, --output json|yaml for machines. Everything is redacted.
import { stringify } from 'yaml'
import { redact } from './secrets.ts'

export type OutputFormat = 'table' | 'json' | 'yaml'

export interface Column<T> {
  header: string
  value: (row: T) => unknown
  align?: 'left' | 'right'
}

function cell(v: unknown): string {
  if (v === undefined || v === null || v === '') return '-'
  if (Array.isArray(v)) return v.join(',')
  return String(v)
}

export function renderTable<T>(rows: T[], columns: Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => cell(c.value(r))))
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i].length)))
  const fmt = (vals: string[]) =>
    vals
      .map((v, i) => (columns[i].align === 'right' ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  return [fmt(columns.map((c) => c.header.toUpperCase())), ...cells.map(fmt)].join('\n')
}

/** Prints data in the chosen format; `table` renders `rows` with `columns`. */
export function printOutput<T>(format: OutputFormat, data: unknown, rows: T[], columns: Column<T>[]): void {
  let text: string
  if (format === 'json') text = JSON.stringify(data, null, 2)
  else if (format === 'yaml') text = stringify(data).trimEnd()
  else text = rows.length ? renderTable(rows, columns) : '(none)'
  process.stdout.write(redact(text) + '\n')
}

/** Human-oriented progress/info line on stderr, so stdout stays machine-readable. */
export function info(message: string): void {
  process.stderr.write(redact(message) + '\n')
}

export function warn(message: string): void {
  process.stderr.write(redact(`warning: ${message}`) + '\n')
}

export const formatBytes = (n: number | undefined): string => {
  if (n === undefined || !Number.isFinite(n)) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`
}

/** 93784 → "1d 2h 3m"; for uptimes and task durations. */
export const formatDuration = (seconds: number | undefined): string => {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '-'
  const d = Math.floor(seconds / 86400)
  const h = Math.floor((seconds % 86400) / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  if (d) return `${d}d ${h}h ${m}m`
  if (h) return `${h}h ${m}m`
  if (m) return `${m}m ${Math.floor(seconds % 60)}s`
  return `${Math.floor(seconds)}s`
}

/** 0.1234 → "12.3%". */
export const formatPercent = (ratio: number | undefined): string => (ratio === undefined || !Number.isFinite(ratio) ? '-' : `${(ratio * 100).toFixed(1)}%`)
