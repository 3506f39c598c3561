// `pvesh` on a simulated PVE node: any API path, options taken from that method's schema, results
// printed through PVE::CLIFormatter; tasks run in the foreground like the real in-process handler.
import { childSegments, methodInfo, type PropSchema } from './apidoc.ts'
import { PveError, fillPath, runCli, type Command, type Context, type Params, type Tree } from './cli.ts'
import { formatApiResult, standardOutputOptions } from './format.ts'

const METHODS: Record<string, string> = { get: 'GET', set: 'PUT', create: 'POST', delete: 'DELETE', ls: 'GET' }

/** The API path is the first non-option word after the command; its schema defines the options. */
function apiPathOf(argv: string[]): string | undefined {
  return argv.slice(1).find((a) => !a.startsWith('-'))
}

const argv = process.argv.slice(2)
const apiPath = apiPathOf(argv)

function normalize(path: string): string {
  return `/${path.split('/').filter(Boolean).join('/')}`
}

function paramsFor(verb: string): Record<string, PropSchema> {
  const props: Record<string, PropSchema> = { api_path: { type: 'string' } }
  const resolved = apiPath ? methodInfo(METHODS[verb], normalize(apiPath)) : undefined
  for (const [k, v] of Object.entries(resolved?.info.parameters.properties ?? {})) if (!(k in (resolved?.pathParams ?? {}))) props[k] = v
  return props
}

function callCommand(verb: string): Command {
  return {
    group: 'PVE::CLI::pvesh',
    args: ['api_path'],
    params: paramsFor(verb),
    formatterOptions: { ...standardOutputOptions, noproxy: { type: 'boolean', optional: 1 } },
    async run(ctx: Context, params: Params, fmt: Params) {
      const method = METHODS[verb]
      const path = normalize(String(params.api_path))
      delete params.api_path
      const resolved = methodInfo(method, path)
      if (!resolved) throw new PveError(`no '${verb}' handler for '${path}'\n`)
      const query = { ...params }
      const result = await ctx.call(method, fillPath(path, query), query)
      await ctx.task(result)
      const { noproxy: _noproxy, ...formatOptions } = fmt
      ctx.out(formatApiResult(result, resolved.info.returns, formatOptions))
    },
  }
}

const ls: Command = {
  group: 'PVE::CLI::pvesh',
  args: ['api_path'],
  params: { api_path: { type: 'string' } },
  formatterOptions: standardOutputOptions,
  async run(ctx, params, fmt) {
    const path = normalize(String(params.api_path))
    if (!methodInfo('GET', path)) throw new PveError(`no 'get' handler for '${path}'\n`)
    const children = childSegments(path)
    const rows: { name: string; flags: string }[] = []
    const flags = (methods: string[], dir: boolean) =>
      `${dir ? 'D' : '-'}${methods.includes('GET') ? 'r' : '-'}${methods.includes('PUT') ? 'w' : '-'}${methods.includes('POST') ? 'c' : '-'}${methods.includes('DELETE') ? 'd' : '-'}`
    const templated = children.find((c) => /^\{.+\}$/.test(c.name))
    if (templated) {
      const key = templated.name.slice(1, -1)
      const items = (await ctx.call('GET', path)) as Record<string, unknown>[]
      for (const item of items) if (item[key] !== undefined) rows.push({ name: String(item[key]), flags: flags(templated.methods, childSegments(`${path}/${item[key]}`).length > 0) })
    } else for (const c of children) rows.push({ name: c.name, flags: flags(c.methods, childSegments(`${path}/${c.name}`).length > 0) })
    if ((fmt['output-format'] ?? 'text') === 'text') for (const r of rows.sort((a, b) => (a.name < b.name ? -1 : 1))) ctx.out(`${r.flags}        ${r.name}\n`)
    else ctx.out(formatApiResult(rows.map((r) => ({ name: r.name, type: r.flags })), { type: 'array' }, fmt))
  },
}

const tree: Tree = {
  get: callCommand('get'),
  set: callCommand('set'),
  create: callCommand('create'),
  delete: callCommand('delete'),
  ls,
}

process.exitCode = await runCli('pvesh', tree, argv)
