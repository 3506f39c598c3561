// A small side-by-side benchmark harness: runs each case as a fresh process, alternating the
// cases run by run (A B C A B C ...) so drift on a shared machine hits all of them alike, and
// reports medians and ratios measured in the same run.
import { spawn } from 'node:child_process'

export interface BenchCase {
  name: string
  command: string
  args: string[]
  env?: NodeJS.ProcessEnv
  cwd?: string
}

export interface BenchResult {
  name: string
  samples: number[]
  median: number
  min: number
  p90: number
}

/** Runs one process to completion; its stdout is read and discarded, a failure is fatal. */
function timeOnce(c: BenchCase): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(c.command, c.args, { env: c.env ?? process.env, cwd: c.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    let bytes = 0
    child.stdout.on('data', (b: Buffer) => (bytes += b.length))
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      const ms = performance.now() - started
      if (code !== 0) return reject(new Error(`${c.name} exited ${code}: ${stderr.trim().slice(0, 500)}`))
      if (bytes === 0 && !c.args.includes('-e')) return reject(new Error(`${c.name} printed nothing`))
      resolve(ms)
    })
  })
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]

export async function runAlternating(cases: BenchCase[], runs: number, warmup = 1, onProgress?: (run: number) => void): Promise<BenchResult[]> {
  for (let w = 0; w < warmup; w++) for (const c of cases) await timeOnce(c)
  const samples = cases.map(() => [] as number[])
  for (let run = 0; run < runs; run++) {
    // rotate the starting case so none always runs first
    for (let k = 0; k < cases.length; k++) {
      const i = (run + k) % cases.length
      samples[i].push(await timeOnce(cases[i]))
    }
    onProgress?.(run + 1)
  }
  return cases.map((c, i) => {
    const sorted = [...samples[i]].sort((a, b) => a - b)
    return { name: c.name, samples: samples[i], median: quantile(sorted, 0.5), min: sorted[0], p90: quantile(sorted, 0.9) }
  })
}

export function formatResults(results: BenchResult[], ratios: Array<[string, string]>): string {
  const width = Math.max(...results.map((r) => r.name.length))
  const lines = [`${'case'.padEnd(width)}  median ms     min ms     p90 ms  runs`]
  for (const r of results) lines.push(`${r.name.padEnd(width)}  ${r.median.toFixed(1).padStart(9)}  ${r.min.toFixed(1).padStart(9)}  ${r.p90.toFixed(1).padStart(9)}  ${String(r.samples.length).padStart(4)}`)
  lines.push('', 'ratios of medians:')
  const byName = new Map(results.map((r) => [r.name, r]))
  for (const [a, b] of ratios) lines.push(`  ${a} / ${b} = ${(byName.get(a)!.median / byName.get(b)!.median).toFixed(2)}x`)
  return lines.join('\n')
}
