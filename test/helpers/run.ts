// Runs an entry script as a subprocess with the same Node binary as the tests (Node 24).
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { isAbsolute, resolve } from 'node:path'

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

export interface RunResult { code: number; stdout: string; stderr: string }
export interface RunOptions {
  /** Added to a clean environment (PATH, HOME... but no PVE_* variables from the caller). */
  env?: Record<string, string | undefined>
  /** Written to stdin, which is then closed. */
  input?: string
  /** Kill after this long (default 60 s); the result then has code 124. */
  timeoutMs?: number
  cwd?: string
}

export function runScript(script: string, args: string[] = [], opts: RunOptions = {}): Promise<RunResult> {
  const env: Record<string, string | undefined> = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PVE_')) env[k] = v
  Object.assign(env, { NODE_OPTIONS: '--disable-warning=ExperimentalWarning', NO_COLOR: '1', FORCE_COLOR: '0' }, opts.env)
  const child = spawn(process.execPath, [isAbsolute(script) ? script : resolve(repoRoot, script), ...args], { cwd: opts.cwd ?? repoRoot, env, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
  child.stdin.end(opts.input ?? '')
  return new Promise((resolvePromise, reject) => {
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, opts.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolvePromise({ code: timedOut ? 124 : (code ?? 1), stdout, stderr })
    })
  })
}
