// The one way this project runs talosctl (and flux): the binary from config.tools, arguments as an
// array (never through a shell string), the talosconfig by --talosconfig, secrets only in files,
// output redacted, and a deadline on every call that talks to a node.
import { sh } from '../shell.ts'
import { debug } from '../cli.ts'
import { redact } from '../secrets.ts'
import { TaskFailedError } from '../errors.ts'

export interface ToolResult {
  ok: boolean
  exitCode: number | null
  stdout: string
  stderr: string
  timedOut: boolean
}

export interface RunOptions {
  /** Nodes to target (-n), joined with commas. */
  nodes?: string[]
  /** Endpoints (-e); by default the nodes themselves (never the VIP: talos#11830). */
  endpoints?: string[]
  /** Maintenance-mode API: no talosconfig. */
  insecure?: boolean
  timeoutMs?: number
  input?: string
  /** Return failures instead of throwing (probes). */
  nothrow?: boolean
}

const DEFAULT_TIMEOUT_MS = 120_000

export interface ToolRunner {
  readonly bin: string
  run(args: string[], opts?: RunOptions): Promise<ToolResult>
}

/** Runs `bin args...`; `describe` names the call in errors. */
async function exec(bin: string, args: string[], opts: { timeoutMs?: number; input?: string; nothrow?: boolean }): Promise<ToolResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
  debug(`${bin} ${args.join(' ')}`)
  const p = sh()({ nothrow: true, timeout: timeoutMs, timeoutSignal: 'SIGKILL', ...(opts.input !== undefined ? { input: opts.input } : {}) })`${bin} ${args}`
  const out = await p
  const timedOut = out.signal === 'SIGKILL' && out.exitCode === null
  const result: ToolResult = { ok: out.exitCode === 0, exitCode: out.exitCode, stdout: out.stdout, stderr: out.stderr, timedOut }
  if (!result.ok && !opts.nothrow) throw toolError(bin, args, result, timeoutMs)
  return result
}

export function toolError(bin: string, args: string[], r: ToolResult, timeoutMs?: number): TaskFailedError {
  const name = bin.split('/').pop() ?? bin
  const what = `${name} ${args.filter((a) => !a.startsWith('-')).slice(0, 2).join(' ')}`.trim()
  const reason = r.timedOut ? `timed out after ${Math.round((timeoutMs ?? 0) / 1000)}s` : `failed (exit ${r.exitCode})`
  const tail = redact((r.stderr || r.stdout).trim()).split('\n').slice(-8)
  return new TaskFailedError(`${what} ${reason}`, { logTail: tail.filter(Boolean) })
}

export class Talosctl implements ToolRunner {
  readonly bin: string
  readonly talosconfig?: string
  constructor(opts: { bin?: string; talosconfig?: string }) {
    this.bin = opts.bin ?? 'talosctl'
    this.talosconfig = opts.talosconfig
  }

  /** The same runner with another talosconfig (e.g. the one gen config just wrote). */
  withTalosconfig(path: string): Talosctl {
    return new Talosctl({ bin: this.bin, talosconfig: path })
  }

  run(args: string[], opts: RunOptions = {}): Promise<ToolResult> {
    const full = [...args]
    if (opts.nodes?.length) full.push('--nodes', opts.nodes.join(','))
    if (opts.insecure) full.push('--insecure')
    else if (opts.nodes?.length || opts.endpoints?.length) {
      full.push('--endpoints', (opts.endpoints ?? opts.nodes ?? []).join(','))
      if (this.talosconfig) full.push('--talosconfig', this.talosconfig)
    }
    return exec(this.bin, full, opts)
  }

  /** Offline commands (gen, validate, machineconfig): no node, no talosconfig. */
  offline(args: string[], opts: Pick<RunOptions, 'timeoutMs' | 'nothrow' | 'input'> = {}): Promise<ToolResult> {
    return exec(this.bin, args, { timeoutMs: opts.timeoutMs ?? 60_000, nothrow: opts.nothrow, input: opts.input })
  }
}

export class Flux implements ToolRunner {
  readonly bin: string
  readonly kubeconfig: string
  constructor(opts: { bin?: string; kubeconfig: string }) {
    this.bin = opts.bin ?? 'flux'
    this.kubeconfig = opts.kubeconfig
  }

  run(args: string[], opts: Pick<RunOptions, 'timeoutMs' | 'nothrow' | 'input'> = {}): Promise<ToolResult> {
    return exec(this.bin, [...args, '--kubeconfig', this.kubeconfig], { timeoutMs: opts.timeoutMs ?? 15 * 60_000, nothrow: opts.nothrow, input: opts.input })
  }
}

/** `talosctl get ... -o json` prints one JSON document per resource, back to back. */
export function parseJsonStream<T = any>(text: string): T[] {
  const out: T[] = []
  let depth = 0
  let start = -1
  let inString = false
  let escaped = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      if (escaped) escaped = false
      else if (c === '\\') escaped = true
      else if (c === '"') inString = false
      continue
    }
    if (c === '"') inString = true
    else if (c === '{' || c === '[') {
      if (depth === 0) start = i
      depth++
    } else if (c === '}' || c === ']') {
      depth--
      if (depth === 0 && start >= 0) {
        out.push(JSON.parse(text.slice(start, i + 1)) as T)
        start = -1
      }
    }
  }
  return out
}

/** The server's Tag from `talosctl version` output (the client section comes first). */
export function parseServerVersion(text: string): string | undefined {
  const server = text.split(/^Server:\s*$/m)[1]
  return server ? /^\s*Tag:\s*(\S+)/m.exec(server)?.[1] : undefined
}

/** `talosctl service etcd`: the STATE column. */
export function parseServiceState(text: string): string | undefined {
  return /^STATE\s+(\S+)/m.exec(text)?.[1]
}

export interface EtcdMember {
  node: string
  id: string
  hostname: string
  peerUrls: string[]
  learner: boolean
}

/** `talosctl etcd members` table. */
export function parseEtcdMembers(text: string): EtcdMember[] {
  const lines = text.trim().split('\n').filter(Boolean)
  const header = lines.shift()?.split(/\s{2,}|\t+/) ?? []
  const col = (name: string) => header.indexOf(name)
  return lines.map((line) => {
    const cells = line.split(/\s{2,}|\t+/)
    return {
      node: cells[col('NODE')] ?? '',
      id: cells[col('ID')] ?? '',
      hostname: cells[col('HOSTNAME')] ?? '',
      peerUrls: (cells[col('PEER URLS')] ?? '').split(',').filter(Boolean),
      learner: cells[col('LEARNER')] === 'true',
    }
  })
}
