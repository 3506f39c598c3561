// Credential bootstrap over SSH: the PVE-realm user, the least-privilege role, the ACL, and an API
// token whose secret goes from pveum's stdout straight into `pass insert -m` on stdin. The secret
// lives only in this process's memory: never on a terminal, in a file, or in any argv.
import { spawn } from 'node:child_process'
import { ConfigError, TaskFailedError } from '../errors.ts'
import { registerSecret } from '../secrets.ts'
import { fullTokenId, parsePrivs, rbacCommands, remote, type ExistingRbac, type RbacSpec } from './rbac.ts'
import { spawnSsh, sshRun, type SshTarget } from './ssh.ts'

export interface BootstrapOptions {
  passPath: string
  rotate: boolean
  dryRun: boolean
  log: (msg: string) => void
}

export interface BootstrapResult {
  changes: string[]
  token: 'created' | 'rotated' | 'kept' | 'would-create' | 'would-rotate'
}

async function pveumJson<T>(t: SshTarget, ...args: string[]): Promise<T> {
  const { stdout } = await sshRun(t, remote('pveum', ...args, '--output-format', 'json'))
  try {
    return JSON.parse(stdout || '[]') as T
  } catch {
    throw new TaskFailedError(`pveum ${args.join(' ')} did not print JSON`)
  }
}

export async function readExisting(t: SshTarget, spec: RbacSpec): Promise<ExistingRbac> {
  const [users, roles, acl] = await Promise.all([
    pveumJson<{ userid: string }[]>(t, 'user', 'list'),
    pveumJson<{ roleid: string; privs?: unknown }[]>(t, 'role', 'list'),
    pveumJson<{ path: string; type: string; ugid: string; roleid: string }[]>(t, 'acl', 'list'),
  ])
  const userExists = users.some((u) => u.userid === spec.user)
  const role = roles.find((r) => r.roleid === spec.role)
  const tokens = userExists ? await pveumJson<{ tokenid: string }[]>(t, 'user', 'token', 'list', spec.user) : []
  return {
    userExists,
    rolePrivs: role ? parsePrivs(role.privs) : undefined,
    aclGranted: acl.some((a) => a.path === '/' && a.type === 'user' && a.ugid === spec.user && a.roleid === spec.role),
    tokenExists: tokens.some((x) => x.tokenid === spec.token),
  }
}

export async function bootstrapRbac(t: SshTarget, spec: RbacSpec, opts: BootstrapOptions): Promise<BootstrapResult> {
  const have = await readExisting(t, spec)
  const changes = rbacCommands(spec, have)
  for (const cmd of changes) {
    opts.log(`${opts.dryRun ? 'would run' : 'running'} on ${t.node}: ${cmd}`)
    if (!opts.dryRun) await sshRun(t, cmd)
  }
  // An existing token is kept when pass already holds it: its secret cannot be read back from PVE.
  const stored = have.tokenExists ? await passEntryId(opts.passPath) : undefined
  if (have.tokenExists && !opts.rotate && stored === fullTokenId(spec)) return { changes, token: 'kept' }
  if (opts.dryRun) return { changes, token: have.tokenExists ? 'would-rotate' : 'would-create' }
  if (have.tokenExists) {
    opts.log(`replacing token ${fullTokenId(spec)} (${opts.rotate ? '--rotate' : `pass has no secret for it at ${opts.passPath}`})`)
    await sshRun(t, remote('pveum', 'user', 'token', 'remove', spec.user, spec.token))
  }
  await createTokenIntoPass(t, spec, opts.passPath)
  return { changes, token: have.tokenExists ? 'rotated' : 'created' }
}

/** Line 1 of the pass entry (the token id), or undefined when there is no entry. */
function passEntryId(passPath: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn('pass', ['show', passPath], { stdio: ['ignore', 'pipe', 'ignore'], env: passEnv() })
    const out: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.on('error', (e) => reject(passMissing(e)))
    child.on('close', (code) => {
      const [id, secret] = Buffer.concat(out).toString('utf8').split('\n')
      registerSecret(secret?.trim())
      resolve(code === 0 ? id?.trim() : undefined)
    })
  })
}

function passEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.PASSWORD_STORE_ENABLE_EXTENSIONS // store extensions are sourced bash
  return env
}

function passMissing(e: NodeJS.ErrnoException) {
  return new ConfigError([{ file: 'pass', path: 'credentials.pass_path', message: e.code === 'ENOENT' ? "the 'pass' command is not installed" : e.message }])
}

/** `pveum user token add … --output-format json` → (in memory) → `pass insert -m -f <path>` stdin. */
function createTokenIntoPass(t: SshTarget, spec: RbacSpec, passPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const cmd = remote('pveum', 'user', 'token', 'add', spec.user, spec.token, '--privsep', '0', '--comment', spec.comment, '--output-format', 'json')
    const ssh = spawnSsh(t, cmd, ['ignore', 'pipe', 'pipe'])
    const out: Buffer[] = []
    const err: Buffer[] = []
    ssh.stdout!.on('data', (b: Buffer) => out.push(b))
    ssh.stderr!.on('data', (b: Buffer) => err.push(b))
    ssh.on('error', (e) => reject(new TaskFailedError(`ssh failed: ${e.message}`)))
    ssh.on('close', (code) => {
      if (code !== 0) return reject(new TaskFailedError(`pveum user token add failed on ${t.node}: ${Buffer.concat(err).toString('utf8').trim().split('\n').pop()}`))
      let value: string
      try {
        const parsed = JSON.parse(Buffer.concat(out).toString('utf8')) as { value?: string; 'full-tokenid'?: string }
        value = String(parsed.value ?? '')
      } catch {
        return reject(new TaskFailedError('pveum user token add did not print JSON; the token exists now without a stored secret', { hint: 'run the bootstrap again (it replaces the token)' }))
      }
      registerSecret(value)
      if (!/^[0-9a-f-]{36}$/i.test(value)) return reject(new TaskFailedError('pveum returned no token secret'))
      const pass = spawn('pass', ['insert', '-m', '-f', passPath], { stdio: ['pipe', 'ignore', 'pipe'], env: passEnv() })
      const perr: Buffer[] = []
      pass.stderr.on('data', (b: Buffer) => perr.push(b))
      pass.on('error', (e) => reject(passMissing(e)))
      pass.on('close', (pcode) => {
        if (pcode === 0) return resolve()
        reject(new TaskFailedError(`pass insert failed: ${Buffer.concat(perr).toString('utf8').trim().split('\n').pop()}; the token exists without a stored secret`, { hint: 'fix pass (gpg key, store), then run the bootstrap again' }))
      })
      pass.stdin.end(`${fullTokenId(spec)}\n${value}\n`)
    })
  })
}
