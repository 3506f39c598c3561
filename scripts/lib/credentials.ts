// The PVE API token: PVE_TOKEN_ID + PVE_TOKEN_SECRET from the environment, else `pass show <pass_path>`
// (line 1 token id, line 2 secret). pass runs without a shell and its output is never echoed; the
// secret is registered for redaction the moment it is read.
import { ConfigError } from './errors.ts'
import type { ClusterConfig } from './config.ts'
import { registerSecret } from './secrets.ts'

export interface Credentials {
  /** user@realm!tokenname */
  tokenId: string
  secret: string
  /** where it came from, for diagnostics: "environment" or "pass:<path>" */
  source: string
}

// PVE's token id grammar (pve-access-control AccessControl.pm): USER@REALM!TOKENID.
const TOKEN_ID = /^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+$/

export async function resolveCredentials(config: Pick<ClusterConfig, 'credentials' | 'file'>, env: NodeJS.ProcessEnv = process.env): Promise<Credentials> {
  const envId = env.PVE_TOKEN_ID?.trim()
  const envSecret = env.PVE_TOKEN_SECRET?.trim()
  registerSecret(envSecret)
  if (envId || envSecret) {
    if (!envId || !envSecret) {
      const missing = envId ? 'PVE_TOKEN_SECRET' : 'PVE_TOKEN_ID'
      throw credentialError('environment', missing, `is not set, but ${missing === 'PVE_TOKEN_ID' ? 'PVE_TOKEN_SECRET' : 'PVE_TOKEN_ID'} is: set both, or neither to use pass`)
    }
    return validated(envId, envSecret, 'environment', 'environment', 'PVE_TOKEN_ID')
  }
  const passPath = config.credentials.pass_path
  if (!passPath) throw credentialError(config.file, 'credentials.pass_path', 'no API token: set credentials.pass_path, or PVE_TOKEN_ID and PVE_TOKEN_SECRET in the environment')
  const lines = (await passShow(passPath, config.file, env)).split(/\r?\n/)
  const [id, secret] = [lines[0]?.trim() ?? '', lines[1]?.trim() ?? '']
  registerSecret(secret)
  if (!secret) throw credentialError(config.file, 'credentials.pass_path', `pass entry '${passPath}' must hold two lines: the token id (user@realm!name), then the secret`)
  return validated(id, secret, `pass:${passPath}`, config.file, 'credentials.pass_path')
}

function validated(tokenId: string, secret: string, source: string, file: string, field: string): Credentials {
  if (!TOKEN_ID.test(tokenId)) {
    const shown = tokenId.length > 60 || tokenId === secret ? '(not shown)' : `'${tokenId}'`
    throw credentialError(file, field, `token id ${shown} is not of the form user@realm!tokenname`)
  }
  if (/\s/.test(secret)) throw credentialError(file, field, 'token secret contains whitespace')
  return { tokenId, secret, source }
}

function credentialError(file: string, path: string, message: string): ConfigError {
  return new ConfigError([{ file, path, message }])
}

/** `pass show <path>`: argv only (no shell), stdout captured, stderr kept for the error message. */
async function passShow(passPath: string, file: string, env: NodeJS.ProcessEnv): Promise<string> {
  const { spawn } = await import('node:child_process') // only when pass is actually used
  // Store extensions are sourced bash: never let a synced store run code through us.
  const childEnv = { ...env }
  delete childEnv.PASSWORD_STORE_ENABLE_EXTENSIONS
  return new Promise((resolve, reject) => {
    const child = spawn('pass', ['show', passPath], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ENOENT' ? "the 'pass' command is not installed (or not on PATH)" : `could not run pass: ${e.message}`
      reject(credentialError(file, 'credentials.pass_path', `${why}; install pass or set PVE_TOKEN_ID and PVE_TOKEN_SECRET`))
    })
    child.on('close', (code) => {
      if (code === 0) return resolve(Buffer.concat(out).toString('utf8'))
      const stderr = Buffer.concat(err).toString('utf8').trim().split('\n')[0] || `exit code ${code}`
      const missing = /is not in the password store/.test(stderr)
      reject(credentialError(file, 'credentials.pass_path', missing ? `pass has no entry '${passPath}'` : `pass show '${passPath}' failed: ${stderr}`))
    })
  })
}
