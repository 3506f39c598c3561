// One error taxonomy and one error-to-exit-code mapping for every script (see README "Exit codes").

export const EXIT = {
  ok: 0,
  usage: 1, // bad arguments
  config: 2, // invalid cluster-config.yaml or profile
  notFound: 3, // VM, node, storage, profile... does not exist
  api: 4, // PVE API error, unreachable, TLS, authentication, permission
  taskFailed: 5, // a PVE task (or an external command such as talosctl) ended in failure
  conflict: 6, // locked, already exists, digest mismatch, concurrent change
  refused: 7, // a safety rule refused the operation (empty selector, template, not owned, no TTY without --yes)
  findings: 8, // a check ran and found problems (health critical, drift)
  internal: 70, // a bug: unexpected exception
  aborted: 130, // the user said no, or pressed Ctrl-C
} as const

export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

/** Base class: message is shown to the user as-is (after redaction); hint is an extra remedy line. */
export class PmError extends Error {
  readonly exitCode: ExitCode
  readonly hint?: string
  constructor(message: string, exitCode: ExitCode, hint?: string) {
    super(message)
    this.name = new.target.name
    this.exitCode = exitCode
    this.hint = hint
  }
}

export class UsageError extends PmError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.usage, hint)
  }
}

export interface ConfigIssue {
  file: string
  line?: number
  col?: number
  path: string // dotted path of the field, e.g. "nodes.0.host"
  message: string
}

/** Invalid configuration: printed as `file:line:col path: message`, one line per issue. */
export class ConfigError extends PmError {
  readonly issues: ConfigIssue[]
  constructor(issues: ConfigIssue[]) {
    super(issues.map(formatConfigIssue).join('\n'), EXIT.config)
    this.issues = issues
  }
}

export function formatConfigIssue(i: ConfigIssue): string {
  const where = i.line ? `${i.file}:${i.line}:${i.col ?? 1}` : i.file
  return `${where} ${i.path || '(root)'}: ${i.message}`
}

export class NotFoundError extends PmError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.notFound, hint)
  }
}

/** Failure talking to PVE: transport (unreachable, TLS, timeout) or an API error envelope. */
export class ApiError extends PmError {
  readonly status: number // HTTP status, 0 for transport failures
  readonly statusText: string
  readonly method: string
  readonly path: string
  readonly errors?: Record<string, string> // per-parameter errors from PVE's 400 envelope
  readonly code?: string // transport failures: ECONNREFUSED, ENOTFOUND, a TLS code, ETIMEDOUT...
  constructor(opts: {
    message: string
    status: number
    statusText?: string
    method: string
    path: string
    errors?: Record<string, string>
    code?: string
    hint?: string
    exitCode?: ExitCode
  }) {
    super(opts.message, opts.exitCode ?? EXIT.api, opts.hint)
    this.status = opts.status
    this.statusText = opts.statusText ?? ''
    this.method = opts.method
    this.path = opts.path
    this.errors = opts.errors
    this.code = opts.code
  }
}

export class TaskFailedError extends PmError {
  readonly upid?: string
  readonly exitStatus?: string
  readonly logTail: string[]
  constructor(message: string, opts: { upid?: string; exitStatus?: string; logTail?: string[]; hint?: string } = {}) {
    super(message, EXIT.taskFailed, opts.hint)
    this.upid = opts.upid
    this.exitStatus = opts.exitStatus
    this.logTail = opts.logTail ?? []
  }
}

export class ConflictError extends PmError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.conflict, hint)
  }
}

export class RefusedError extends PmError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.refused, hint)
  }
}

export class FindingsError extends PmError {
  constructor(message: string) {
    super(message, EXIT.findings)
  }
}

export class AbortedError extends PmError {
  constructor(message = 'Aborted.') {
    super(message, EXIT.aborted)
  }
}
