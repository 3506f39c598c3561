// Loads the official PVE 9.1 schema (AGPL data, never copied into the repo): $PVE_APIDOC, else
// `shared/pve-api/apidoc.json` beside the repository or beside one of its parent directories
// (worktrees live one level deeper than the main checkout).
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ParametersSchema } from '../sim/validate/schema.ts'

export interface ApiMethod {
  method: string
  path: string
  parameters?: ParametersSchema
  permissions?: { check?: unknown[]; user?: string }
  proxyto?: string
  allowtoken?: number
}

export function apidocPath(): string {
  if (process.env.PVE_APIDOC) return process.env.PVE_APIDOC
  let dir = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
  for (;;) {
    const candidate = join(dir, '..', 'shared', 'pve-api', 'apidoc.json')
    if (existsSync(candidate)) return resolve(candidate)
    const parent = dirname(dir)
    if (parent === dir) throw new Error('apidoc.json not found: set PVE_APIDOC or put shared/pve-api/ beside the repository')
    dir = parent
  }
}

interface TreeNode { path: string; info?: Record<string, Omit<ApiMethod, 'method' | 'path'>>; children?: TreeNode[] }

export function loadApidoc(): Map<string, ApiMethod> {
  const tree = JSON.parse(readFileSync(apidocPath(), 'utf8')) as TreeNode[]
  const out = new Map<string, ApiMethod>()
  const walk = (nodes: TreeNode[]) => {
    for (const n of nodes) {
      for (const [method, info] of Object.entries(n.info ?? {})) out.set(`${method} ${n.path}`, { ...info, method, path: n.path })
      if (n.children) walk(n.children)
    }
  }
  walk(tree)
  return out
}

/** Finds the schema method for a concrete request path (templates match any segment). */
export function matchApidoc(doc: Map<string, ApiMethod>, method: string, path: string): { api: ApiMethod; pathParams: Record<string, string> } | undefined {
  const segs = path.split('/').filter(Boolean)
  let best: { api: ApiMethod; pathParams: Record<string, string>; literal: number } | undefined
  for (const api of doc.values()) {
    if (api.method !== method) continue
    const t = api.path.split('/').filter(Boolean)
    if (t.length !== segs.length) continue
    const pathParams: Record<string, string> = {}
    let literal = 0
    let ok = true
    for (let i = 0; i < t.length && ok; i++) {
      if (t[i].startsWith('{')) pathParams[t[i].slice(1, -1)] = decodeURIComponent(segs[i])
      else if (t[i] === segs[i]) literal++
      else ok = false
    }
    if (ok && (!best || literal > best.literal)) best = { api, pathParams, literal }
  }
  return best && { api: best.api, pathParams: best.pathParams }
}
