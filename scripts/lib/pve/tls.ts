// How the API certificate is verified. Exactly one policy per config (tls.ca_file | fingerprint |
// insecure). TLS session resumption is off in every policy: Node skips certificate checks on a
// resumed session, so every connection must present and prove its certificate again.
import { readFileSync } from 'node:fs'
import type { TLSSocket } from 'node:tls'
import { Agent, buildConnector } from 'undici'
import { ConfigError } from '../errors.ts'
import type { TlsConfig } from '../config.ts'
import { warn } from '../output.ts'

/** The leaf certificate did not match any pinned fingerprint; the socket was closed unused. */
export class FingerprintMismatchError extends Error {
  readonly code = 'ERR_PM_FINGERPRINT_MISMATCH'
  readonly actual: string
  constructor(actual: string, host: string) {
    super(`certificate fingerprint of ${host} is ${actual || '(no certificate)'}, which is not pinned in tls.fingerprint`)
    this.actual = actual
  }
}

export interface AgentOptions {
  connectTimeoutMs: number
  /** config file, for error messages about tls.ca_file */
  configFile?: string
}

export function createAgent(tls: TlsConfig, opts: AgentOptions): Agent {
  const common = { maxCachedSessions: 0, timeout: opts.connectTimeoutMs }
  if (tls.ca_file) {
    let ca: Buffer
    try {
      ca = readFileSync(tls.ca_file)
    } catch (err: any) {
      throw new ConfigError([{ file: opts.configFile ?? 'cluster-config.yaml', path: 'tls.ca_file', message: `cannot read ${tls.ca_file}: ${err?.code === 'ENOENT' ? 'file not found' : err?.message}` }])
    }
    // Chain and host name are verified by Node (rejectUnauthorized defaults to true).
    return new Agent({ connect: { ...common, ca } })
  }
  if (tls.fingerprint) {
    const pins = new Set(Array.isArray(tls.fingerprint) ? tls.fingerprint : [tls.fingerprint])
    // The chain is self-signed, so Node's verification is replaced by the pin, checked in the
    // connector after the handshake and before undici writes a single request byte.
    // eslint-disable-next-line no-restricted-syntax -- the pin below is the verification
    const handshake = buildConnector({ ...common, rejectUnauthorized: false })
    return new Agent({
      connect: (options, callback) =>
        handshake(options, (err, socket) => {
          if (err || !socket) return callback(err ?? new Error('TLS connect failed'), null)
          const actual = (socket as TLSSocket).getPeerCertificate().fingerprint256 ?? ''
          if (pins.has(actual)) return callback(null, socket)
          // A graceful close (close_notify + FIN, no request sent); destroyed soon in any case.
          socket.end()
          setTimeout(() => socket.destroy(), 1000).unref()
          callback(new FingerprintMismatchError(actual, `${options.hostname}:${options.port}`), null)
        }),
    })
  }
  warn('TLS verification is DISABLED (tls.insecure: true): anyone on the network path can read the API token. Use tls.ca_file or tls.fingerprint.')
  // eslint-disable-next-line no-restricted-syntax -- the explicit, warned opt-in (tls.insecure)
  return new Agent({ connect: { ...common, rejectUnauthorized: false } })
}
