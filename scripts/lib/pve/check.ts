// pve:check: every configured node on its own (no failover, no retries), so each one's
// reachability, TLS, version and the token's validity and privileges are diagnosed precisely.
import { describeTls, type ClusterConfig } from '../config.ts'
import type { Credentials } from '../credentials.ts'
import { ApiError } from '../errors.ts'
import { PveClient } from './client.ts'
import { missingPrivileges, TOOL_PRIVILEGES, type PermissionMap, type ToolPrivilege } from './privileges.ts'
import type { Dispatcher } from 'undici'

export interface NodeCheck {
  node: string
  endpoint: string
  ok: boolean
  version?: string
  latencyMs?: number
  /** transport code (ECONNREFUSED, a TLS code...) or HTTP status */
  failure?: string
  message?: string
  hint?: string
}

export interface CheckReport {
  tls: string
  /** valid: null when no node answered, or there was no token to check */
  token: { id?: string; source?: string; valid: boolean | null; error?: string }
  nodes: NodeCheck[]
  privileges: { checked: boolean; missing: ToolPrivilege[]; required: number; error?: string }
}

interface VersionInfo {
  version: string
  release?: string
  repoid?: string
}

/**
 * Checks all nodes at once. Without credentials (`{ error }`: pass missing, say) the nodes are
 * still probed: a 401 then proves the node is reachable and its certificate right.
 */
export async function checkCluster(config: ClusterConfig, credentials: Credentials | { error: string }, dispatcher: Dispatcher, timeoutMs = 5_000): Promise<CheckReport> {
  const token = 'error' in credentials ? undefined : credentials
  const report: CheckReport = {
    tls: describeTls(config.tls),
    token: token ? { id: token.tokenId, source: token.source, valid: null } : { valid: null, error: (credentials as { error: string }).error },
    nodes: [],
    privileges: { checked: false, missing: [], required: TOOL_PRIVILEGES.length },
  }
  const probe: Credentials = token ?? { tokenId: '', secret: '', source: 'none' }
  const clients = config.cluster.nodes.map((node) => new PveClient({ nodes: [node], credentials: async () => probe, dispatcher, timeoutMs, retries: 0 }))
  report.nodes = await Promise.all(
    config.cluster.nodes.map(async (node, i): Promise<NodeCheck> => {
      const endpoint = `${node.host}:${node.port}`
      const started = performance.now()
      try {
        const v = await clients[i].get<VersionInfo>('/version')
        return { node: node.name, endpoint, ok: true, version: v.version, latencyMs: Math.round(performance.now() - started) }
      } catch (err) {
        if (!(err instanceof ApiError)) throw err
        if (err.status === 401 && !token) return { node: node.name, endpoint, ok: true, latencyMs: Math.round(performance.now() - started), message: 'reachable; no token to authenticate with' }
        return { node: node.name, endpoint, ok: false, failure: err.code ?? String(err.status), message: err.message, hint: err.hint }
      }
    }),
  )
  if (token) {
    if (report.nodes.some((n) => n.ok)) report.token.valid = true
    else if (report.nodes.some((n) => n.failure === '401')) report.token.valid = false
  }
  const answering = token && clients.find((_, i) => report.nodes[i].ok)
  if (answering) {
    try {
      const perms = await answering.get<PermissionMap>('/access/permissions')
      report.privileges = { checked: true, missing: missingPrivileges(perms), required: TOOL_PRIVILEGES.length }
    } catch (err) {
      if (!(err instanceof ApiError)) throw err
      report.privileges.error = err.message
    }
  }
  return report
}
