// The official PVE 9.1 schema (apidoc.json), read at run time: the real CLIs parse their options
// from the API method's parameter schema, so the shims do the same instead of restating it.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface PropSchema {
  type?: string
  format?: string | Record<string, PropSchema>
  optional?: number
  default?: unknown
  enum?: string[]
  typetext?: string
  renderer?: string
  title?: string
  print_width?: number
  maxLength?: number
  items?: PropSchema
  properties?: Record<string, PropSchema>
}

export interface MethodInfo {
  method: string
  name: string
  parameters: { properties: Record<string, PropSchema>; additionalProperties?: number }
  returns: PropSchema
}

interface TreeNode {
  path: string
  info?: Record<string, MethodInfo>
  children?: TreeNode[]
}

/** $PVE_APIDOC_FILE, else `shared/pve-api/apidoc.json` beside the project (or any parent dir). */
export function apidocPath(): string {
  if (process.env.PVE_APIDOC_FILE) return process.env.PVE_APIDOC_FILE
  let dir = resolve(dirname(fileURLToPath(import.meta.url)))
  for (;;) {
    const candidate = join(dir, 'shared', 'pve-api', 'apidoc.json')
    if (existsSync(candidate)) return candidate
    const parent = dirname(dir)
    if (parent === dir) throw new Error('apidoc.json not found: set PVE_APIDOC_FILE')
    dir = parent
  }
}

let routes: { segments: string[]; node: TreeNode }[] | undefined

function loadRoutes() {
  if (routes) return routes
  const tree = JSON.parse(readFileSync(apidocPath(), 'utf8')) as TreeNode[]
  routes = []
  const walk = (nodes: TreeNode[]) => {
    for (const n of nodes) {
      routes!.push({ segments: n.path.split('/').filter(Boolean), node: n })
      if (n.children) walk(n.children)
    }
  }
  walk(tree)
  return routes
}

export interface ResolvedMethod {
  info: MethodInfo
  /** Path parameters taken from the concrete path, e.g. {node: 'pve1', vmid: '100'}. */
  pathParams: Record<string, string>
  template: string
}

/** Like PVE's find_handler: literal segments win over `{param}` segments. */
export function resolvePath(path: string): { node: TreeNode; pathParams: Record<string, string> } | undefined {
  const parts = path.split('/').filter(Boolean)
  let best: { node: TreeNode; pathParams: Record<string, string>; literals: number } | undefined
  for (const r of loadRoutes()) {
    if (r.segments.length !== parts.length) continue
    const pathParams: Record<string, string> = {}
    let literals = 0
    let ok = true
    for (let i = 0; i < parts.length && ok; i++) {
      const seg = r.segments[i]
      const m = /^\{(.+)\}$/.exec(seg)
      if (m) pathParams[m[1]] = decodeURIComponent(parts[i])
      else if (seg === parts[i]) literals++
      else ok = false
    }
    if (ok && (!best || literals > best.literals)) best = { node: r.node, pathParams, literals }
  }
  return best && { node: best.node, pathParams: best.pathParams }
}

export function methodInfo(method: string, path: string): ResolvedMethod | undefined {
  const found = resolvePath(path)
  const info = found?.node.info?.[method]
  if (!found || !info) return undefined
  return { info, pathParams: found.pathParams, template: found.node.path }
}

/** The child entries of an API directory (for `pvesh ls`). */
export function childSegments(path: string): { name: string; methods: string[] }[] {
  const found = resolvePath(path)
  return (found?.node.children ?? []).map((c) => ({ name: c.path.split('/').pop()!, methods: Object.keys(c.info ?? {}) }))
}
