// PVE::CLIHandler for the shims: command trees with aliases and unique-prefix expansion, option
// parsing driven by the API method's schema (PVE::JSONSchema::get_options, Getopt::Long semantics),
// and the real CLIs' error texts and exit codes (255 for every failure, like Perl's die/exit(-1)).
import { methodInfo, type MethodInfo, type PropSchema } from './apidoc.ts'
import { ApiCallError, SimApi, followTask, isUpid } from './api.ts'

export type Params = Record<string, string | number | string[]>

/** A PVE::Exception: `<code> <msg>`, then `<param>: <error>` lines, then the command's usage. */
export class PveError extends Error {
  code?: number
  errors?: Record<string, string>
  usage?: string
  constructor(message: string, opts: { code?: number; errors?: Record<string, string> } = {}) {
    super(message)
    this.code = opts.code
    this.errors = opts.errors
  }
  render(): string {
    let text = this.code ? `${this.code} ${this.message}` : this.message
    if (!text.endsWith('\n')) text += '\n'
    for (const k of Object.keys(this.errors ?? {}).sort()) text += `${k}: ${this.errors![k]}\n`
    if (this.usage) text += this.usage.endsWith('\n') ? this.usage : `${this.usage}\n`
    return text
  }
}

export interface Context {
  api: SimApi
  node: string
  out: (s: string) => void
  err: (s: string) => void
  /** Runs an API call the way the CLI runs the handler in-process: tasks in the foreground. */
  call: (method: string, path: string, params?: Record<string, unknown>) => Promise<unknown>
  /** Follows a UPID like the CLI's foreground worker; true when it succeeded. */
  task: (upid: unknown) => Promise<boolean>
}

export interface Command {
  /** The API method the command calls (path may hold `{node}` and other path parameters). */
  api?: { method: string; path: string }
  /** Parameters of commands implemented by the CLI itself (no API method of their own). */
  params?: Record<string, PropSchema>
  /** Positional parameters in order (a string: a `-list` parameter taking all the rest). */
  args: string[] | string
  /** Parameters the command presets (e.g. {node: <this node>}); not options. */
  fixed?: Record<string, string | number>
  /** Extra options consumed by the output formatter. */
  formatterOptions?: Record<string, PropSchema>
  /** Grouping for the usage listing (the Perl class the command comes from). */
  group: string
  run: (ctx: Context, params: Params, fmt: Params, info?: MethodInfo) => Promise<number | void>
}

export type Tree = { [name: string]: Command | Tree | { alias: string } }

const isAlias = (d: unknown): d is { alias: string } => typeof d === 'object' && d !== null && 'alias' in d
const isCommand = (d: unknown): d is Command => typeof d === 'object' && d !== null && 'run' in d

export function commandSchema(cmd: Command, node: string): Record<string, PropSchema> {
  const base = cmd.params ?? (cmd.api ? methodInfo(cmd.api.method, cmd.api.path.replace('{node}', node))?.info.parameters.properties : undefined) ?? {}
  return { ...base, ...(cmd.formatterOptions ?? {}) }
}

export function usageStr(cmd: Command, prefix: string, node: string): string {
  const props = commandSchema(cmd, node)
  const fixed = { ...(cmd.fixed ?? {}), ...(cmd.api ? pathParamNames(cmd.api.path) : {}) }
  const argList = typeof cmd.args === 'string' ? [cmd.args] : cmd.args
  const parts: string[] = []
  for (const p of argList) {
    const pd = props[p]
    if (!pd) continue
    if (typeof pd.format === 'string' && pd.format.includes('-list') && typeof cmd.args === 'string') parts.push(`{<${p}>}`)
    else parts.push(pd.optional ? `[<${p}>]` : `<${p}>`)
  }
  let hasOptions = false
  const seenIndexed = new Set<string>()
  for (const k of Object.keys(props).sort()) {
    if (argList.includes(k) || k in fixed) continue
    const m = /^([a-z]+)(\d+)$/.exec(k)
    if (m) {
      if (seenIndexed.has(m[1])) continue
      seenIndexed.add(m[1])
    }
    hasOptions = true
    if (!props[k].optional) parts.push(`--${m ? `${m[1]}[n]` : k} <${props[k].type ?? 'string'}>`)
  }
  return `${prefix} ${parts.join(' ')}${hasOptions ? ' [OPTIONS]' : ''}`
}

/** Path parameters that the command fills itself from its positional arguments or fixed values. */
function pathParamNames(path: string): Record<string, true> {
  const out: Record<string, true> = {}
  for (const m of path.matchAll(/\{([^}]+)\}/g)) if (m[1] === 'node') out[m[1]] = true
  return out
}

function parseBoolean(v: string): number | undefined {
  if (/^(1|on|yes|true)$/i.test(v)) return 1
  if (/^(0|off|no|false)$/i.test(v)) return 0
  return undefined
}

/** PVE::JSONSchema::get_options on top of Getopt::Long (prefix `-` or `--`, unique abbreviations). */
export function getOptions(props: Record<string, PropSchema>, argv: string[], args: string[] | string, fixed: Record<string, string | number>, err: (s: string) => void): Params {
  const listParam = typeof args === 'string' ? args : undefined
  // apidoc.json writes indexed properties once, as `scsi[n]`; the CLI knows scsi0, scsi1, ...
  props = { ...props }
  for (const a of argv) {
    const m = /^--?([a-z]+)(\d+)(?:=|$)/.exec(a)
    const indexed = m && props[`${m[1]}[n]`]
    if (indexed) props[`${m[1]}${m[2]}`] = indexed
  }
  const names = Object.keys(props).filter((p) => p !== listParam && !(p in fixed) && !p.endsWith('[n]'))
  const kind = (p: string) => {
    const pd = props[p]
    if (pd.type === 'boolean') return 'optional'
    if ((typeof pd.format === 'string' && pd.format.includes('-list')) || pd.type === 'array') return 'list'
    return 'single'
  }
  const opts: Record<string, string | string[]> = {}
  const rest: string[] = []
  let failed = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--') {
      rest.push(...argv.slice(i + 1))
      break
    }
    const m = /^(--|-)([^=]+)(?:=(.*))?$/s.exec(a)
    if (!m || a === '-') {
      rest.push(a)
      continue
    }
    const given = m[2]
    let name = names.find((n) => n === given)
    if (!name) {
      const candidates = names.filter((n) => n.startsWith(given))
      if (candidates.length > 1) {
        err(`Option ${given} is ambiguous (${candidates.sort().join(', ')})\n`)
        failed = true
        continue
      }
      name = candidates[0]
    }
    if (!name) {
      err(`Unknown option: ${given}\n`)
      failed = true
      continue
    }
    let value = m[3]
    const k = kind(name)
    if (value === undefined) {
      const next = argv[i + 1]
      if (k === 'optional') {
        if (next !== undefined && (!next.startsWith('-') || next === '-')) {
          value = next
          i++
        } else value = ''
      } else if (next === undefined) {
        err(`Option ${name} requires an argument\n`)
        failed = true
        continue
      } else {
        value = next
        i++
      }
    }
    if (k === 'list') opts[name] = [...((opts[name] as string[] | undefined) ?? []), value]
    else opts[name] = value
  }
  if (failed) throw new PveError('unable to parse option\n', { code: 400 })

  const out: Params = { ...opts }
  const argList = typeof args === 'string' ? [] : args
  if (listParam) {
    if (rest.length) out[listParam] = rest.splice(0)
  } else {
    for (let i = 0; i < argList.length; i++) {
      const name = argList[i]
      if (name === 'extra-args') {
        out[name] = rest.splice(0)
        break
      }
      if (!rest.length) {
        for (const left of argList.slice(i)) if (left !== 'extra-args' && !props[left]?.optional) throw new PveError('not enough arguments\n', { code: 400 })
        break
      }
      out[name] = rest.shift()!
    }
  }
  if (rest.length) throw new PveError('too many arguments\n', { code: 400 })

  for (const [p, v] of Object.entries(out)) {
    const pd = props[p]
    if (!pd) continue
    if (pd.type === 'boolean' && typeof v === 'string') {
      const b = v === '' ? 1 : parseBoolean(v)
      if (b === undefined) throw new PveError('unable to parse boolean option\n', { code: 400 })
      out[p] = b
    } else if (typeof pd.format === 'string' && pd.format.includes('-list') && Array.isArray(v)) out[p] = v.join(',')
  }
  return { ...out, ...fixed }
}

interface Resolved {
  name: string
  def: Command | Tree | undefined
  args: string[]
  cmdStr: string
}

function expand(def: Tree, word: string): string | undefined {
  if (word in def) return word
  const matches = Object.keys(def).filter((k) => k.startsWith(word) && !isAlias(def[k]))
  return matches.length === 1 ? matches[0] : undefined
}

/** PVE::CLIHandler::resolve_cmd: walks the tree, resolving prefixes and one level of aliases. */
function resolve(tree: Tree, exe: string, argv: string[], viaAlias = false): Resolved {
  let def: Command | Tree | undefined = tree
  let cmdStr = exe
  for (let i = 0; i < argv.length; i++) {
    const level = def as Tree
    const word = expand(level, argv[i]) ?? argv[i]
    cmdStr += ` ${word}`
    const next: Tree[string] | undefined = level[word]
    if (next === undefined) return { name: argv[0], def: undefined, args: argv.slice(i + 1), cmdStr }
    if (isAlias(next)) {
      if (viaAlias) throw new Error(`alias loop detected for '${word}'`)
      return resolve(tree, exe, [...argv.slice(0, i), ...next.alias.split(/ +/), ...argv.slice(i + 1)], true)
    }
    def = next as Command | Tree
    if (isCommand(def)) return { name: word, def, args: argv.slice(i + 1), cmdStr }
  }
  return { name: argv[0], def, args: [], cmdStr }
}

function shortUsage(tree: Tree, prefix: string, node: string, indent: string): string {
  const keys = Object.keys(tree).filter((k) => !isAlias(tree[k]))
  keys.sort((a, b) => {
    const ca = isCommand(tree[a]) ? (tree[a] as Command) : undefined
    const cb = isCommand(tree[b]) ? (tree[b] as Command) : undefined
    if (ca && cb && ca.group !== cb.group) return ca.group < cb.group ? -1 : 1
    if (!ca !== !cb) return ca ? 1 : -1
    return a < b ? -1 : 1
  })
  let out = ''
  for (const k of keys) {
    const d = tree[k]
    if (isCommand(d)) out += `${indent}${usageStr(d, `${prefix} ${k}`, node)}\n`
    else out += shortUsage(d as Tree, `${prefix} ${k}`, node, indent)
  }
  return out
}

/** PVE::CLIHandler::run_cli_handler: returns the exit code. */
export async function runCli(exe: string, tree: Tree, argv: string[]): Promise<number> {
  const out = (s: string) => process.stdout.write(s)
  const err = (s: string) => process.stderr.write(s)
  const node = process.env.PVE_SIM_NODE ?? 'localhost'
  const withHelp: Tree = { ...tree, help: helpCommand(exe, tree, node) }
  const abort = (reason: string, sub?: Tree, subPrefix?: string) => {
    err(`ERROR: ${reason}\nUSAGE: ${exe} <COMMAND> [ARGS] [OPTIONS]\n`)
    err(sub ? shortUsage(sub, subPrefix!, node, '       ') : `\n${shortUsage(withHelp, exe, node, '       ')}`)
    return 255
  }
  if (!argv.length) return abort('no command specified')
  const { def, args, cmdStr } = resolve(withHelp, exe, argv)
  if (def && !isCommand(def)) return abort(`incomplete command '${cmdStr}'`, def as Tree, cmdStr)
  if (!def) return abort(`unknown command '${cmdStr}'`)

  let api: SimApi | undefined
  const lazyApi = () => (api ??= new SimApi())
  const runTask = async (upid: unknown): Promise<boolean> => {
    if (!isUpid(upid)) return true
    const outcome = await followTask(lazyApi(), upid, out)
    if (!outcome.ok) err(`${outcome.exitstatus}\n`)
    else if (outcome.warnings) err(`Task finished with ${outcome.warnings} warning(s)!\n`)
    return outcome.ok
  }
  const ctx: Context = {
    get api() {
      return lazyApi()
    },
    node,
    out,
    err,
    call: async (method, path, params = {}) => lazyApi().call(method, path, params),
    task: runTask,
  }
  try {
    const props = commandSchema(def, node)
    const parsed = getOptions(props, args, def.args, def.fixed ?? {}, err)
    const fmt: Params = {}
    for (const k of Object.keys(def.formatterOptions ?? {})) {
      if (k in parsed) {
        fmt[k] = parsed[k]
        delete parsed[k]
      }
    }
    const info = def.api ? methodInfo(def.api.method, def.api.path.replace('{node}', node))?.info : undefined
    return (await def.run(ctx, parsed, fmt, info)) ?? 0
  } catch (e) {
    let error: PveError
    if (e instanceof PveError) error = e
    else if (e instanceof ApiCallError) error = new PveError(e.message, { code: e.status === 500 ? undefined : e.status, errors: e.errors })
    else if (e instanceof Error && 'code' in e && typeof (e as any).code === 'string' && (e as any).code.startsWith('UND_ERR')) error = new PveError(`${e.message}\n`)
    else throw e
    if (error.code === 400) error.usage = usageStr(def, cmdStr, node)
    err(error.render())
    return 255
  } finally {
    await api?.close()
  }
}

function helpCommand(exe: string, tree: Tree, node: string): Command {
  return {
    group: 'PVE::CLIHandler',
    args: ['extra-args'],
    params: { 'extra-args': { type: 'array', optional: 1 }, verbose: { type: 'boolean', optional: 1 } },
    async run(ctx, params) {
      const words = (params['extra-args'] as string[] | undefined) ?? []
      if (!words.length) {
        ctx.out(`USAGE: ${exe} <COMMAND> [ARGS] [OPTIONS]\n\n${shortUsage(tree, exe, node, '       ')}`)
        return
      }
      const { def, cmdStr } = resolve(tree, exe, words)
      if (!def) throw new PveError(`unknown command '${cmdStr}'\n`)
      ctx.out(isCommand(def) ? `USAGE: ${usageStr(def, cmdStr, node)}\n` : `USAGE: ${shortUsage(def as Tree, cmdStr, node, '       ').replace(/^\s+/, '')}`)
    },
  }
}

/** Fills `{param}` placeholders of an API path from the parsed parameters (removing them). */
export function fillPath(path: string, params: Params): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const v = params[name]
    delete params[name]
    return String(v) // SimApi.call encodes every segment; encoding here too sent `a%2540pve`
  })
}

/** A command that is exactly one API call, like most `$cmddef` entries. */
export function apiCommand(
  method: string,
  path: string,
  args: string[] | string,
  opts: { fixed?: Record<string, string | number>; group: string; formatterOptions?: Record<string, PropSchema>; output?: (ctx: Context, result: unknown, fmt: Params, info?: MethodInfo) => void
    waitTask?: 'exit' | 'print'
    /** Adjusts the parameters before the call (e.g. node paths → volumes). */
    prepare?: (ctx: Context, params: Params) => Promise<void>
  },
): Command {
  return {
    api: { method, path },
    args,
    fixed: opts.fixed,
    group: opts.group,
    formatterOptions: opts.formatterOptions,
    async run(ctx, params, fmt, info) {
      const query = { ...params }
      await opts.prepare?.(ctx, query)
      const concrete = fillPath(path, query)
      const result = await ctx.call(method, concrete, query)
      if (opts.waitTask) {
        const ok = await ctx.task(result)
        // Commands with $upid_exit exit -1 on a failed task; the others return normally.
        if (!ok && opts.waitTask === 'exit') return 255
      }
      opts.output?.(ctx, result, fmt, info)
    },
  }
}
