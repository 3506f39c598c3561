// Route table: PVE path templates (`/nodes/{node}/qemu/{vmid}/config`) → method specs with
// their parameter schema, permission check (apidoc notation), proxy target and handler.
import type { Identity, PermCheck } from './auth.ts'
import type { ParametersSchema } from './validate/schema.ts'
import type { SimContext } from './context.ts'

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE'

export interface ApiRequest {
  /** Validated parameters, typed by the schema (integers and booleans as numbers). */
  params: Record<string, any>
  /** Parameters as sent (strings), for permission checks. */
  raw: Record<string, unknown>
  id: Identity
  /** The node the request is handled on (the proxy target for `proxyto: node`). */
  node: string
  sim: SimContext
  /** Uploaded file (multipart), for the storage upload endpoint. */
  file?: { filename: string; size: number }
}

export interface ApiResult { data: unknown; total?: number }

export interface RouteSpec {
  method: HttpMethod
  path: string
  params: ParametersSchema
  /** apidoc `permissions`: a check expression, or `user: 'all'` (any authenticated identity). */
  permissions: { check?: PermCheck; user?: 'all' }
  proxyto?: 'node'
  /** 0 for the few methods API tokens may not use. */
  allowtoken?: 0
  handler(req: ApiRequest): unknown | Promise<unknown>
}

interface Compiled extends RouteSpec { segments: string[] }

export class Router {
  private routes: Compiled[] = []

  add(spec: RouteSpec) {
    this.routes.push({ ...spec, segments: spec.path.split('/').filter(Boolean) })
  }

  list(): RouteSpec[] {
    return this.routes
  }

  /** Finds the route and its path parameters; undefined = PVE's 501 "not implemented". */
  match(method: string, path: string): { route: RouteSpec; pathParams: Record<string, string> } | undefined {
    const segs = path.split('/').filter(Boolean)
    for (const r of this.routes) {
      if (r.method !== method || r.segments.length !== segs.length) continue
      const pathParams: Record<string, string> = {}
      let ok = true
      for (let i = 0; i < segs.length && ok; i++) {
        const t = r.segments[i]
        if (t.startsWith('{')) pathParams[t.slice(1, -1)] = decodeURIComponent(segs[i])
        else ok = t === segs[i]
      }
      if (ok) return { route: r, pathParams }
    }
    return undefined
  }
}
