// What every command that talks to PVE opens first: the validated config and a client whose
// credentials are resolved on the first request (so --help, --dry-run planning and config
// errors never touch pass). The HTTPS stack (undici) is loaded on the first request too, which
// keeps --help and usage errors fast.
import type { GlobalFlags } from './cli.ts'
import { debug } from './cli.ts'
import { describeTls, loadClusterConfig, type ClusterConfig } from './config.ts'
import { resolveCredentials, type Credentials } from './credentials.ts'
import { PveClient } from './pve/client.ts'

export interface Context {
  config: ClusterConfig
  client: PveClient
}

export interface ContextOptions {
  /** Per-request deadline in ms (default 30 s; PM_API_TIMEOUT_MS overrides). */
  timeoutMs?: number
  retries?: number
}

export async function openContext(cli: Pick<GlobalFlags, 'configPath'>, opts: ContextOptions = {}): Promise<Context> {
  const config = await loadClusterConfig(cli.configPath)
  debug(`config ${config.file}: cluster ${config.cluster.name}, nodes ${config.cluster.nodes.map((n) => `${n.name}=${n.host}:${n.port}`).join(' ')}, TLS ${describeTls(config.tls)}`)
  return { config, client: createClient(config, opts) }
}

export function createClient(config: ClusterConfig, opts: ContextOptions = {}): PveClient {
  const timeoutMs = opts.timeoutMs ?? (Number(process.env.PM_API_TIMEOUT_MS) || 30_000)
  const dispatcher = async () => (await import('./pve/tls.ts')).createAgent(config.tls, { connectTimeoutMs: Math.min(timeoutMs, 10_000), configFile: config.file })
  let credentials: Promise<Credentials> | undefined
  return new PveClient({
    nodes: config.cluster.nodes,
    credentials: () => (credentials ??= resolveCredentials(config)),
    dispatcher,
    timeoutMs,
    retries: opts.retries,
  })
}
