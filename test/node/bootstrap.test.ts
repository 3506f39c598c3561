// Credential bootstrap over a real sshd (whose pveum acts on the simulator) into a real pass store
// with a throwaway GPG key. The token secret must never show up in any output or any argv.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, writeFile, chmod } from 'node:fs/promises'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startSimulator, type Simulator } from '../helpers/sim.ts'
import { startSshd, type SshServer } from '../sim/ssh/sshd.ts'
import { runScript, type RunResult } from '../helpers/run.ts'

const exec = promisify(execFile)
const PASS_PATH = 'pm/sim/token'
let sim: Simulator
let sshd: SshServer
let env: Record<string, string>

before(async () => {
  sim = await startSimulator({ timeFactor: 0.001, inventory: { nodes: 2, vms: [] } })
  const dir = await mkdtemp(join(tmpdir(), 'pm-boot-'))
  await chmod(dir, 0o700)
  const node = sim.nodes[0]
  // The ssh_config entry is named after the node's host, which is what the tool dials.
  sshd = await startSshd({ target: { node: node.name, url: node.url, caFile: sim.caFile, token: sim.rootToken }, alias: node.host })
  const gnupg = join(dir, 'gnupg')
  const store = join(dir, 'store')
  await exec('mkdir', ['-m', '700', gnupg])
  const gpgEnv = { ...process.env, GNUPGHOME: gnupg }
  await writeFile(join(dir, 'key.params'), ['%no-protection', 'Key-Type: eddsa', 'Key-Curve: ed25519', 'Key-Usage: sign', 'Subkey-Type: ecdh', 'Subkey-Curve: cv25519', 'Subkey-Usage: encrypt', 'Name-Real: pm test', 'Name-Email: pm-test@example.invalid', 'Expire-Date: 0', '%commit', ''].join('\n'))
  await exec('gpg', ['--batch', '--gen-key', join(dir, 'key.params')], { env: gpgEnv })
  await exec('pass', ['init', 'pm-test@example.invalid'], { env: { ...gpgEnv, PASSWORD_STORE_DIR: store } })
  const config = sim.writeClusterConfig(join(dir, 'cluster-config.yaml'), { credentials: { pass_path: PASS_PATH, ssh_user: userInfo().username } })
  env = { PVE_CONFIG: config, GNUPGHOME: gnupg, PASSWORD_STORE_DIR: store, PM_SSH_CONFIG: sshd.configFile }
})
after(async () => {
  await sshd?.stop()
  await sim?.stop()
})

/** Runs the bootstrap while sampling every process's argv, as another local user could. */
async function bootstrapSampled(args: string[]): Promise<{ result: RunResult; argvs: Set<string> }> {
  const argvs = new Set<string>()
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      for (const pid of await readdir('/proc').catch(() => [])) {
        if (!/^\d+$/.test(pid)) continue
        const cmd = await readFile(`/proc/${pid}/cmdline`).catch(() => undefined)
        if (cmd?.length) argvs.add(cmd.toString('utf8').replace(/\0/g, ' '))
      }
      await new Promise((r) => setTimeout(r, 5))
    }
  })()
  const result = await runScript('scripts/bootstrap/rbac.ts', args, { env, timeoutMs: 90_000 })
  sampling = false
  await sampler
  return { result, argvs }
}

function passShow(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('pass', ['show', PASS_PATH], { env: { ...process.env, ...env } })
    let out = ''
    child.stdout.on('data', (b) => (out += b))
    child.on('error', reject)
    child.on('close', () => resolve(out.trim().split('\n')))
  })
}

const tokensOf = (userid: string) => [...(sim.context.access.users.get(userid)?.tokens.keys() ?? [])]

test('creates user, role, ACL and a token stored in pass; the secret appears in no output and no argv', async () => {
  const { result, argvs } = await bootstrapSampled([])
  assert.equal(result.code, 0, result.stderr)
  assert.match(result.stderr, /token: created/)
  assert.match(result.stderr, /verified: the token from pass/)
  const [id, secret] = await passShow()
  assert.equal(id, 'proxmox-manager@pve!proxmox-manager')
  assert.match(secret, /^[0-9a-f-]{36}$/)
  assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret), 'secret printed')
  assert.ok(argvs.size > 10, `the sampler saw processes (${argvs.size})`)
  assert.ok(argvs.has([...argvs].find((a) => a.includes('pveum user token add')) ?? ''), 'the sampler caught the pveum command')
  for (const a of argvs) assert.ok(!a.includes(secret), `secret in argv: ${a.slice(0, 80)}`)
  assert.deepEqual(tokensOf('proxmox-manager@pve'), ['proxmox-manager'])

  // the stored token works for the tool's own check
  const check = await runScript('scripts/pve/check.ts', [], { env })
  assert.equal(check.code, 0, check.stderr)
})

test('running it again changes nothing; --rotate replaces the token in place', async () => {
  const [, before] = await passShow()
  const writes = sim.requests.filter((r) => r.method !== 'GET').length
  let { result } = await bootstrapSampled([])
  assert.equal(result.code, 0, result.stderr)
  assert.match(result.stderr, /up to date/)
  assert.match(result.stderr, /token: kept/)
  assert.equal(sim.requests.filter((r) => r.method !== 'GET').length, writes, 'no write request on a re-run')
  assert.equal((await passShow())[1], before)

  const rotated = await bootstrapSampled(['--rotate'])
  result = rotated.result
  assert.equal(result.code, 0, result.stderr)
  assert.match(result.stderr, /token: rotated/)
  const [, after] = await passShow()
  assert.notEqual(after, before)
  for (const a of rotated.argvs) assert.ok(!a.includes(after))
  assert.deepEqual(tokensOf('proxmox-manager@pve'), ['proxmox-manager'], 'replaced, not duplicated')
  const roles = sim.context.access.roles
  assert.ok(roles.has('ProxmoxManager'))
})
