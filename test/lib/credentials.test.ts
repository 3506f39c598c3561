import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveCredentials } from '../../scripts/lib/credentials.ts'
import { ConfigError, EXIT } from '../../scripts/lib/errors.ts'
import { redact } from '../../scripts/lib/secrets.ts'

const config = (pass_path?: string) => ({ file: '/etc/pm/cluster-config.yaml', credentials: { pass_path, ssh_user: 'root' } })

/** A stand-in `pass` on PATH: prints `entries[name]`, or fails like pass does; logs its argv. */
function fakePass(entries: Record<string, string>): { env: NodeJS.ProcessEnv; argvLog: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pm-pass-'))
  const argvLog = join(dir, 'argv.log')
  writeFileSync(join(dir, 'entries.json'), JSON.stringify(entries))
  writeFileSync(
    join(dir, 'pass'),
    `#!${process.execPath}
const fs = require('node:fs')
const [cmd, name] = process.argv.slice(2)
fs.appendFileSync(${JSON.stringify(argvLog)}, JSON.stringify(process.argv.slice(2)) + ' extensions=' + (process.env.PASSWORD_STORE_ENABLE_EXTENSIONS ?? 'unset') + '\\n')
const entries = JSON.parse(fs.readFileSync(${JSON.stringify(join(dir, 'entries.json'))}, 'utf8'))
if (cmd !== 'show') process.exit(1)
if (!(name in entries)) { process.stderr.write('Error: ' + name + ' is not in the password store.\\n'); process.exit(1) }
process.stdout.write(entries[name])
`,
  )
  chmodSync(join(dir, 'pass'), 0o755)
  return { env: { PATH: `${dir}:${process.env.PATH}`, PASSWORD_STORE_ENABLE_EXTENSIONS: 'true' }, argvLog }
}

test('environment variables come first and are registered for redaction', async () => {
  const secret = 'f00dcafe-env0-4000-8000-000000000001'
  const creds = await resolveCredentials(config('ignored/entry'), { PVE_TOKEN_ID: 'ops@pve!cli', PVE_TOKEN_SECRET: secret })
  assert.deepEqual(creds, { tokenId: 'ops@pve!cli', secret, source: 'environment' })
  assert.equal(redact(`x ${secret} y`), 'x *** y')
})

test('only one of the two variables is an error naming the missing one', async () => {
  await assert.rejects(resolveCredentials(config(), { PVE_TOKEN_ID: 'ops@pve!cli' }), (err: ConfigError) => {
    assert.equal(err.exitCode, EXIT.config)
    assert.match(err.message, /PVE_TOKEN_SECRET: is not set, but PVE_TOKEN_ID is/)
    return true
  })
})

test('pass: line 1 is the token id, line 2 the secret; run without a shell, extensions disabled', async () => {
  const secret = 'p4ss0000-aaaa-4000-8000-000000000002'
  const { env, argvLog } = fakePass({ 'proxmox/lab': `ops@pve!cli\n${secret}\n` })
  const creds = await resolveCredentials(config('proxmox/lab'), env)
  assert.deepEqual(creds, { tokenId: 'ops@pve!cli', secret, source: 'pass:proxmox/lab' })
  assert.equal(redact(encodeURIComponent(`=${secret}`)), encodeURIComponent('=') + '***')
  assert.equal(readFileSync(argvLog, 'utf8'), '["show","proxmox/lab"] extensions=unset\n')
})

test('pass: a path with shell metacharacters is passed as one argument', async () => {
  const weird = 'proxmox/$(touch pwned);x'
  const { env, argvLog } = fakePass({ [weird]: 'ops@pve!cli\ns3cr3t-0000-4000-8000-000000000003\n' })
  await resolveCredentials(config(weird), env)
  assert.equal(readFileSync(argvLog, 'utf8').split(' extensions=')[0], JSON.stringify(['show', weird]))
})

test('pass: a missing entry says so', async () => {
  const { env } = fakePass({})
  await assert.rejects(resolveCredentials(config('proxmox/none'), env), /credentials\.pass_path: pass has no entry 'proxmox\/none'/)
})

test('pass: not installed is a clear error', async () => {
  await assert.rejects(resolveCredentials(config('proxmox/lab'), { PATH: '/nonexistent' }), /the 'pass' command is not installed.*PVE_TOKEN_ID and PVE_TOKEN_SECRET/)
})

test('pass: an entry without a second line is rejected without showing its content', async () => {
  const { env } = fakePass({ 'proxmox/one-line': 'only-a-secret-value-here\n' })
  await assert.rejects(resolveCredentials(config('proxmox/one-line'), env), (err: ConfigError) => {
    assert.match(err.message, /must hold two lines/)
    assert.ok(!err.message.includes('only-a-secret-value-here'))
    return true
  })
})

test('pass: a malformed token id is rejected; the secret never appears in the error', async () => {
  const secret = 'bad1d000-0000-4000-8000-000000000004'
  const { env } = fakePass({ 'proxmox/bad': `ops-at-pve\n${secret}\n` })
  await assert.rejects(resolveCredentials(config('proxmox/bad'), env), (err: ConfigError) => {
    assert.match(err.message, /token id 'ops-at-pve' is not of the form user@realm!tokenname/)
    assert.ok(!err.message.includes(secret))
    return true
  })
})

test('no pass_path and no environment: explains both ways', async () => {
  await assert.rejects(resolveCredentials(config(), {}), /no API token: set credentials\.pass_path, or PVE_TOKEN_ID and PVE_TOKEN_SECRET/)
})

test('real pass with a throwaway GPG key: the token comes out of an encrypted store', async (t) => {
  const { execFileSync } = await import('node:child_process')
  const home = mkdtempSync(join(tmpdir(), 'pm-gpg-'))
  const env = { PATH: process.env.PATH, HOME: home, GNUPGHOME: join(home, 'gnupg'), PASSWORD_STORE_DIR: join(home, 'store') }
  const run = (cmd: string, args: string[], input?: string) => execFileSync(cmd, args, { env, input, stdio: ['pipe', 'pipe', 'pipe'] }).toString()
  run('mkdir', ['-m', '700', env.GNUPGHOME])
  t.after(() => run('gpgconf', ['--kill', 'gpg-agent'])) // the agent gpg started for this home
  run('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', 'pm-test@example.invalid', 'future-default', 'default', '1d'])
  run('pass', ['init', 'pm-test@example.invalid'])
  const secret = 'gpg00000-real-4000-8000-000000000005'
  run('pass', ['insert', '-m', 'proxmox/lab/api-token'], `ops@pve!cli\n${secret}\n`)
  assert.ok(!readFileSync(join(env.PASSWORD_STORE_DIR, 'proxmox/lab/api-token.gpg')).includes(secret), 'stored encrypted')
  const creds = await resolveCredentials(config('proxmox/lab/api-token'), env)
  assert.deepEqual(creds, { tokenId: 'ops@pve!cli', secret, source: 'pass:proxmox/lab/api-token' })
})
