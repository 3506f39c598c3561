// PVE tasks (workers): decode a UPID, and the one waiter every operation uses. It polls the
// task's own node with backoff until `stopped`: `OK` is success, `WARNINGS: n` is success with
// warnings, anything else is a TaskFailedError carrying the tail of the task log.
import { TaskFailedError, UsageError } from '../errors.ts'
import { warn } from '../output.ts'
import { apiPath, type PveClient } from './client.ts'
import { ApiError } from '../errors.ts'

export interface Upid {
  upid: string
  node: string
  pid: number
  pstart: number
  /** seconds since the epoch */
  starttime: number
  type: string
  id: string
  /** the auth id; for API tokens the full token id (user@realm!name) */
  user: string
}

// pve-common UPID.pm: the id may be empty and the trailing colon is required.
const UPID = /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/

export function decodeUpid(upid: string): Upid {
  const m = UPID.exec(upid.trim())
  if (!m) throw new UsageError(`not a valid task id (UPID): '${upid}'`, 'UPIDs look like UPID:pve01:000A1B2C:01C2D3E4:6650F1A2:qmclone:9000:root@pam!cli:')
  return { upid: upid.trim(), node: m[1], pid: parseInt(m[3], 16), pstart: parseInt(m[4], 16), starttime: parseInt(m[5], 16), type: m[6], id: m[7], user: m[8] }
}

export interface TaskStatus {
  status: 'running' | 'stopped'
  exitstatus?: string
  type?: string
  id?: string
  node?: string
  starttime?: number
}

export interface LogLine {
  n: number
  t: string
}

export interface TaskResult {
  upid: string
  exitstatus: string
  /** `WARN:` lines of the log when the task ended with `WARNINGS: n` */
  warnings: string[]
}

export interface WaitOptions {
  /** Give up waiting after this long (the task keeps running on the server). */
  timeoutMs?: number
  /** First poll interval; grows by 1.5x up to maxPollMs. */
  pollMs?: number
  maxPollMs?: number
  /** Live log: called for every new log line, in order. */
  onLog?: (line: string) => void
  signal?: AbortSignal
  /** Do not print warnings (the caller reports them). */
  quiet?: boolean
  /** Lines of log kept in a TaskFailedError. */
  tailLines?: number
}

const LOG_PAGE = 500

export function taskStatusPath(upid: Upid): string {
  return apiPath`/nodes/${upid.node}/tasks/${upid.upid}/status`
}

export function taskLogPath(upid: Upid): string {
  return apiPath`/nodes/${upid.node}/tasks/${upid.upid}/log`
}

/** Lines `start..` of a task log (0-based offset), all pages. */
export async function readTaskLog(client: PveClient, upid: Upid, start = 0, signal?: AbortSignal): Promise<LogLine[]> {
  const lines: LogLine[] = []
  for (;;) {
    const { data, total } = await client.request<LogLine[]>('GET', taskLogPath(upid), { start: start + lines.length, limit: LOG_PAGE }, { signal })
    lines.push(...data)
    if (data.length < LOG_PAGE || (total !== undefined && start + lines.length >= total)) return lines
  }
}

/** The last `count` lines of a task log. */
export async function readTaskLogTail(client: PveClient, upid: Upid, count: number): Promise<string[]> {
  const { total } = await client.request<LogLine[]>('GET', taskLogPath(upid), { start: 0, limit: 1 })
  const start = Math.max(0, (total ?? 0) - count)
  const { data } = await client.request<LogLine[]>('GET', taskLogPath(upid), { start, limit: count })
  return data.map((l) => l.t)
}

export async function waitForTask(client: PveClient, upidText: string, opts: WaitOptions = {}): Promise<TaskResult> {
  const upid = decodeUpid(upidText)
  const timeoutMs = opts.timeoutMs ?? 30 * 60_000
  const deadline = Date.now() + timeoutMs
  const maxPollMs = opts.maxPollMs ?? 5_000
  let pollMs = opts.pollMs ?? 500
  let logged = 0 // lines already passed to onLog
  let unknownTask = 0
  for (;;) {
    opts.signal?.throwIfAborted()
    let status: TaskStatus | undefined
    try {
      status = await client.get<TaskStatus>(taskStatusPath(upid), undefined, { signal: opts.signal })
    } catch (err) {
      // Right after creation the status endpoint may not know the task yet (400 "no such task").
      if (!(err instanceof ApiError && err.status === 400 && ++unknownTask <= 5)) throw err
    }
    if (opts.onLog) logged = await streamLog(client, upid, logged, opts.onLog, opts.signal)
    if (status?.status === 'stopped') return finish(client, upid, status.exitstatus ?? 'unexpected status', opts)
    if (Date.now() + pollMs > deadline)
      throw new TaskFailedError(`task ${upid.type} ${upid.id} on ${upid.node} still running after ${Math.round(timeoutMs / 1000)} s; stopped waiting (the task goes on)`, {
        upid: upid.upid,
        hint: `follow it with: task pve:task:status UPID=${upid.upid}`,
      })
    await sleep(pollMs, opts.signal)
    pollMs = Math.min(Math.round(pollMs * 1.5), maxPollMs)
  }
}

async function streamLog(client: PveClient, upid: Upid, from: number, onLog: (line: string) => void, signal?: AbortSignal): Promise<number> {
  const lines = await readTaskLog(client, upid, from, signal)
  // "no content" is PVE's placeholder for an empty log, not a line of it.
  const real = lines.filter((l) => !(l.n === 1 && l.t === 'no content' && lines.length === 1))
  for (const l of real) onLog(l.t)
  return from + real.length
}

async function finish(client: PveClient, upid: Upid, exitstatus: string, opts: WaitOptions): Promise<TaskResult> {
  if (exitstatus === 'OK') return { upid: upid.upid, exitstatus, warnings: [] }
  if (/^WARNINGS: \d+$/.test(exitstatus)) {
    const log = await readTaskLog(client, upid)
    const warnings = log.map((l) => l.t).filter((t) => /^WARN: /.test(t))
    if (!opts.quiet) for (const w of warnings.length ? warnings : [exitstatus]) warn(`task ${upid.type} ${upid.id}: ${w}`)
    return { upid: upid.upid, exitstatus, warnings }
  }
  const tail = await readTaskLogTail(client, upid, opts.tailLines ?? 20).catch(() => [])
  throw new TaskFailedError(`task ${upid.type}${upid.id ? ` ${upid.id}` : ''} on ${upid.node} failed: ${exitstatus}`, { upid: upid.upid, exitStatus: exitstatus, logTail: tail })
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true })
  })
}

/** A row of GET /cluster/tasks (recent tasks of the whole cluster, running ones included). */
export interface ClusterTask {
  upid: string
  node: string
  type: string
  id: string
  user: string
  tokenid?: string
  starttime: number
  endtime?: number
  /** exit status of a finished task: OK, WARNINGS: n, or the error */
  status?: string
}

export interface TaskFilter {
  running?: boolean
  errors?: boolean
  node?: string
  vmid?: number
  type?: string
  limit?: number
}

export const isRunning = (t: ClusterTask) => t.endtime === undefined || t.status === undefined || t.status === 'RUNNING'
export const isTaskError = (t: ClusterTask) => !isRunning(t) && t.status !== 'OK' && !/^WARNINGS: \d+$/.test(t.status ?? '')

/** Recent tasks, newest first, filtered. */
export async function listClusterTasks(client: PveClient, filter: TaskFilter = {}): Promise<ClusterTask[]> {
  const tasks = await client.get<ClusterTask[]>('/cluster/tasks')
  return tasks
    .filter(
      (t) =>
        (filter.running === undefined || isRunning(t) === filter.running) &&
        (!filter.errors || isTaskError(t)) &&
        (filter.node === undefined || t.node === filter.node) &&
        (filter.vmid === undefined || t.id === String(filter.vmid)) &&
        (filter.type === undefined || t.type === filter.type),
    )
    .sort((a, b) => b.starttime - a.starttime)
    .slice(0, filter.limit ?? Infinity)
}
