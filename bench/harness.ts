// A small side-by-side benchmark harness: runs each case as a fresh process, alternating the
// cases run by run (A B C A B C ...) so drift on a shared machine hits all of them alike, and
// reports medians and ratios measured in the same run.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface BenchCase {
  name: string
  command: string
  args: string[]
  env?: NodeJS.ProcessEnv
  cwd?: string
}

export interface BenchResult {
  name: string
  /** wall-clock ms */
  samples: number[]
  median: number
  min: number
  p90: number
  /** median CPU ms (user + system, children included): what a busy machine does not distort */
  cpuMedian?: number
}

// GNU time reports the CPU time of the process tree (pipelines and go-task's children included).
const GNU_TIME = '/usr/bin/time'
const scratch = mkdtempSync(join(tmpdir(), 'pm-bench-time-'))
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }))

interface Sample {
  wallMs: number
  cpuMs?: number
}

/** Runs one process to completion; its stdout is read and discarded, a failure is fatal. */
function timeOnce(c: BenchCase): Promise<Sample> {
  const cpuFile = join(scratch, 'cpu')
  const [command, args] = existsSync(GNU_TIME) ? [GNU_TIME, ['-f', '%U %S', '-o', cpuFile, c.command, ...c.args]] : [c.command, c.args]
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(command, args, { env: c.env ?? process.env, cwd: c.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    let bytes = 0
    child.stdout.on('data', (b: Buffer) => (bytes += b.length))
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      const ms = performance.now() - started
      if (code !== 0) return reject(new Error(`${c.name} exited ${code}: ${stderr.trim().slice(0, 500)}`))
      if (bytes === 0 && !c.args.includes('-e')) return reject(new Error(`${c.name} printed nothing`))
      const cpu = command === GNU_TIME ? readFileSync(cpuFile, 'utf8').trim().split(/\s+/).map(Number) : undefined
      resolve({ wallMs: ms, cpuMs: cpu ? (cpu[0] + cpu[1]) * 1000 : undefined })
    })
  })
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]

export async function runAlternating(cases: BenchCase[], runs: number, warmup = 1, onProgress?: (run: number) => void): Promise<BenchResult[]> {
  for (let w = 0; w < warmup; w++) for (const c of cases) await timeOnce(c)
  const samples = cases.map(() => [] as Sample[])
  for (let run = 0; run < runs; run++) {
    // rotate the starting case so none always runs first
    for (let k = 0; k < cases.length; k++) {
      const i = (run + k) % cases.length
      samples[i].push(await timeOnce(cases[i]))
    }
    onProgress?.(run + 1)
  }
  return cases.map((c, i) => {
    const wall = samples[i].map((s) => s.wallMs)
    const sorted = [...wall].sort((a, b) => a - b)
    const cpu = samples[i].flatMap((s) => (s.cpuMs === undefined ? [] : [s.cpuMs])).sort((a, b) => a - b)
    return { name: c.name, samples: wall, median: quantile(sorted, 0.5), min: sorted[0], p90: quantile(sorted, 0.9), cpuMedian: cpu.length ? quantile(cpu, 0.5) : undefined }
  })
}

export function formatResults(results: BenchResult[], ratios: Array<[string, string]>): string {
  const width = Math.max(...results.map((r) => r.name.length))
  const lines = [`${'case'.padEnd(width)}  wall median     min ms     p90 ms  cpu median  runs`]
  for (const r of results)
    lines.push(`${r.name.padEnd(width)}  ${r.median.toFixed(1).padStart(11)}  ${r.min.toFixed(1).padStart(9)}  ${r.p90.toFixed(1).padStart(9)}  ${(r.cpuMedian?.toFixed(0) ?? '-').padStart(10)}  ${String(r.samples.length).padStart(4)}`)
  lines.push('', 'ratios of medians (wall; cpu):')
  const byName = new Map(results.map((r) => [r.name, r]))
  for (const [a, b] of ratios) {
    const [ra, rb] = [byName.get(a)!, byName.get(b)!]
    const cpu = ra.cpuMedian && rb.cpuMedian ? `; ${(ra.cpuMedian / rb.cpuMedian).toFixed(2)}x` : ''
    lines.push(`  ${a} / ${b} = ${(ra.median / rb.median).toFixed(2)}x${cpu}`)
  }
  return lines.join('\n')
}
