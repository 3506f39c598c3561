// pve:check: every configured node on its own (no failover, no retries), so each one's
// reachability, TLS, version and the token's validity and privileges are diagnosed precisely.
import type { ClusterConfig } from '../config.ts'
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
  token: { id: string; source: string; valid: boolean | null }
  nodes: NodeCheck[]
  privileges: { checked: boolean; missing: ToolPrivilege[]; required: number; error?: string }
}

interface VersionInfo {
  version: string
  release?: string
  repoid?: string
}

export async function checkCluster(config: ClusterConfig, credentials: Credentials, dispatcher: Dispatcher, timeoutMs = 5_000): Promise<CheckReport> {
  const report: CheckReport = {
    tls: config.tls.ca_file ? `ca_file ${config.tls.ca_file}` : config.tls.fingerprint ? 'fingerprint pin' : 'insecure (no verification)',
    token: { id: credentials.tokenId, source: credentials.source, valid: null },
    nodes: [],
    privileges: { checked: false, missing: [], required: TOOL_PRIVILEGES.length },
  }
  let answering: PveClient | undefined
  for (const node of config.cluster.nodes) {
    const client = new PveClient({ nodes: [node], credentials: async () => credentials, dispatcher, timeoutMs, retries: 0 })
    const endpoint = `${node.host}:${node.port}`
    const started = performance.now()
    try {
      const v = await client.get<VersionInfo>('/version')
      report.nodes.push({ node: node.name, endpoint, ok: true, version: v.version, latencyMs: Math.round(performance.now() - started) })
      report.token.valid = true
      answering ??= client
    } catch (err) {
      if (!(err instanceof ApiError)) throw err
      if (err.status === 401) report.token.valid ??= false
      report.nodes.push({ node: node.name, endpoint, ok: false, failure: err.code ?? String(err.status), message: err.message, hint: err.hint })
    }
  }
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
