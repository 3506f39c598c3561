// The skeleton every entry script shares: argument parsing (zod), --help, standard flags,
// and the one mapping from errors to exit codes. Entry scripts stay thin:
//
//   await runCommand({ name: 'pve:vms', summary: 'List VMs', options: z.strictObject({...}),
//                      run: async (opts, cli) => { ... } })
import './boot.ts'
import { z } from 'zod'
import { AbortedError, EXIT, PmError, UsageError, type ExitCode, ApiError, TaskFailedError } from './errors.ts'
import { redact } from './secrets.ts'

export interface GlobalFlags {
  help: boolean
  debug: boolean
  /** Path of cluster-config.yaml: --config, else $PVE_CONFIG, else ./cluster-config.yaml. */
  configPath: string
}

export interface CommandSpec<S extends z.ZodObject> {
  /** Task name, e.g. "pve:vms"; shown in --help. */
  name: string
  summary: string
  /** Extra help text: examples, notes. */
  details?: string
  /** Options after the global flags are removed; keys are camelCase (--dry-run → dryRun). */
  options: S
  /** Name of the option that receives positional arguments (as an array), if any. */
  positional?: keyof z.infer<S> & string
  run(opts: z.infer<S>, cli: GlobalFlags): Promise<number | void>
}

// Reusable option schemas, so every command spells them the same way.
export const outputOption = z.enum(['table', 'json', 'yaml']).default('table').describe('output format')
export const dryRunOption = z.boolean().default(false).describe('show what would be done, change nothing')
export const yesOption = z.boolean().default(false).describe('confirm destructive actions (required without a terminal)')
export const waitOption = z.boolean().default(true).describe('wait for the PVE task (--no-wait prints the UPID)')
export const vmidSchema = z.coerce.number().int().min(100).max(999_999_999)

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

function unwrap(t: z.ZodType): z.ZodType {
  let cur: any = t
  while (cur?.def && ['optional', 'default', 'nullable', 'prefault', 'catch', 'readonly'].includes(cur.def.type)) cur = cur.def.innerType
  return cur as z.ZodType
}

function kindOf(t: z.ZodType): 'boolean' | 'array' | 'value' {
  const inner: any = unwrap(t)
  if (inner?.def?.type === 'boolean') return 'boolean'
  if (inner?.def?.type === 'array') return 'array'
  return 'value'
}

const GLOBAL_BOOLEANS = new Set(['help', 'debug'])
const SHORT: Record<string, string> = { h: 'help', y: 'yes', o: 'output', n: 'dryRun' }

/** Parses argv against the option schema's shape. All values stay strings; zod coerces. */
export function parseArgv(argv: string[], shape: Record<string, z.ZodType>, positional?: string) {
  const raw: Record<string, unknown> = {}
  const rest: string[] = []
  const globals: Record<string, unknown> = {}
  const put = (key: string, value: unknown) => {
    const target = key in shape ? raw : globals
    if (key in shape && kindOf(shape[key]) === 'array') {
      const prev = (raw[key] as unknown[] | undefined) ?? []
      raw[key] = [...prev, ...(typeof value === 'string' ? value.split(',').filter(Boolean) : [value])]
    } else target[key] = value
  }
  const isBool = (key: string) => GLOBAL_BOOLEANS.has(key) || (key in shape && kindOf(shape[key]) === 'boolean')
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--') {
      rest.push(...argv.slice(i + 1))
      break
    }
    let m = /^--([^=]+)=(.*)$/s.exec(a)
    if (m) {
      const key = camel(m[1])
      put(key, isBool(key) ? !['0', 'false', 'no'].includes(m[2].toLowerCase()) : m[2])
      continue
    }
    m = /^--(.+)$/.exec(a)
    if (m) {
      const key = camel(m[1])
      if (key.startsWith('no') && /^no[A-Z]/.test(key) && isBool(key[2].toLowerCase() + key.slice(3))) {
        put(key[2].toLowerCase() + key.slice(3), false)
        continue
      }
      if (isBool(key)) put(key, true)
      else if (key === 'config' || key in shape) {
        if (i + 1 >= argv.length) throw new UsageError(`option --${kebab(key)} needs a value`)
        put(key, argv[++i])
      } else put(key, i + 1 < argv.length && !argv[i + 1].startsWith('-') ? argv[++i] : true) // unknown: the strict schema names it
      continue
    }
    m = /^-([a-zA-Z])$/.exec(a)
    if (m && SHORT[m[1]]) {
      const key = SHORT[m[1]]
      if (isBool(key)) put(key, true)
      else put(key, argv[++i])
      continue
    }
    if (m && !SHORT[m[1]]) throw new UsageError(`unknown option -${m[1]}`)
    rest.push(a)
  }
  if (rest.length) {
    if (!positional) throw new UsageError(`unexpected argument${rest.length > 1 ? 's' : ''}: ${rest.join(' ')}`)
    const prev = (raw[positional] as unknown[] | undefined) ?? []
    raw[positional] = kindOf(shape[positional]) === 'array' ? [...prev, ...rest] : rest.join(' ')
  }
  for (const k of Object.keys(globals)) {
    if (!['help', 'debug', 'config'].includes(k)) raw[k] = globals[k] // let the strict schema name it
  }
  return { raw, globals }
}

export function formatHelp(spec: CommandSpec<z.ZodObject>): string {
  const lines = [`${spec.name}: ${spec.summary}`, '', 'Options:']
  const shape = spec.options.shape as Record<string, z.ZodType>
  for (const [key, t] of Object.entries(shape)) {
    const kind = kindOf(t)
    const def = (t as any).def?.type === 'default' ? (t as any).def.defaultValue : undefined
    const flag = kind === 'boolean' ? `--${kebab(key)}` : `--${kebab(key)} <${kind === 'array' ? 'value,...' : 'value'}>`
    const desc = t.description ?? ''
    const shownDefault = def !== undefined && def !== false && !(Array.isArray(def) && !def.length) ? ` (default: ${typeof def === 'function' ? def() : def})` : ''
    const required = !t.safeParse(undefined).success ? ' (required)' : ''
    lines.push(`  ${flag.padEnd(34)} ${desc}${shownDefault}${required}`)
  }
  lines.push(`  ${'--config <file>'.padEnd(34)} cluster config (default: $PVE_CONFIG or ./cluster-config.yaml)`)
  lines.push(`  ${'--debug'.padEnd(34)} verbose diagnostics (secrets stay redacted)`)
  lines.push(`  ${'-h, --help'.padEnd(34)} this help`)
  if (spec.details) lines.push('', spec.details.trim())
  lines.push('', 'Exit codes: 0 ok, 1 usage, 2 config, 3 not found, 4 API, 5 task failed, 6 conflict/locked, 7 refused, 8 findings, 130 aborted')
  return lines.join('\n')
}

function zodIssuesToUsage(err: z.ZodError): UsageError {
  const msgs = err.issues.map((i) => {
    if (i.code === 'unrecognized_keys') return `unknown option${i.keys.length > 1 ? 's' : ''}: ${i.keys.map((k) => `--${kebab(k)}`).join(', ')}`
    const key = i.path.length ? `--${kebab(String(i.path[0]))}` : 'arguments'
    return `${key}: ${i.message}`
  })
  return new UsageError(msgs.join('\n'), 'see --help')
}

let debugEnabled = false
export const isDebug = () => debugEnabled

/** Writes a diagnostic line to stderr when --debug is on; always redacted. */
export function debug(message: string): void {
  if (debugEnabled) process.stderr.write(redact(`[debug] ${message}`) + '\n')
}

/** Runs a command: parse, validate, execute, map errors to exit codes. Never returns. */
export async function runCommand<S extends z.ZodObject>(spec: CommandSpec<S>, argv = process.argv.slice(2)): Promise<never> {
  let code: number
  try {
    code = await execute(spec, argv)
  } catch (err) {
    code = reportError(err)
  }
  await flushStreams()
  process.exit(code)
}

async function execute<S extends z.ZodObject>(spec: CommandSpec<S>, argv: string[]): Promise<number> {
  const shape = spec.options.shape as Record<string, z.ZodType>
  const { raw, globals } = parseArgv(argv, shape, spec.positional)
  const flags: GlobalFlags = {
    help: globals.help === true,
    debug: globals.debug === true || process.env.PM_DEBUG === '1',
    configPath: String(globals.config ?? process.env.PVE_CONFIG ?? 'cluster-config.yaml'),
  }
  debugEnabled = flags.debug
  if (flags.help) {
    process.stdout.write(formatHelp(spec as unknown as CommandSpec<z.ZodObject>) + '\n')
    return EXIT.ok
  }
  const parsed = spec.options.safeParse(raw)
  if (!parsed.success) throw zodIssuesToUsage(parsed.error)
  const result = await spec.run(parsed.data, flags)
  return typeof result === 'number' ? result : EXIT.ok
}

/** Prints an error (redacted) and returns its exit code. */
export function reportError(err: unknown): ExitCode {
  const e = err as any
  if (e?.name === 'ExitPromptError' || e?.name === 'AbortPromptError') err = new AbortedError()
  if (err instanceof PmError) {
    const lines = [`error: ${err.message}`]
    if (err instanceof ApiError && err.errors) for (const [k, v] of Object.entries(err.errors)) lines.push(`  ${k}: ${v}`)
    if (err instanceof TaskFailedError && err.logTail.length) lines.push('task log (last lines):', ...err.logTail.map((l) => `  ${l}`))
    if (err.hint) lines.push(`hint: ${err.hint}`)
    if (debugEnabled && err.stack) lines.push(err.stack)
    process.stderr.write(redact(lines.join('\n')) + '\n')
    return err.exitCode
  }
  const text = e?.stack ?? String(err)
  process.stderr.write(redact(`internal error: ${debugEnabled ? text : (e?.message ?? String(err))}`) + '\n')
  if (!debugEnabled) process.stderr.write('(re-run with --debug for the stack trace)\n')
  return EXIT.internal
}

function flushStreams(): Promise<void> {
  return new Promise((resolve) => {
    let pending = 2
    const done = () => --pending === 0 && resolve()
    process.stdout.write('', done)
    process.stderr.write('', done)
  })
}
