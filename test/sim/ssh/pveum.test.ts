// The documented RBAC bootstrap, end to end over a real sshd: pveum creates a user, a role, an ACL
// and a token; the token JSON is piped through jq into a real `pass` (throwaway GPG key) without
// ever being displayed; the stored token then works against the simulator with the role's rights.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startSimulator } from '../index.ts'
import { simApi } from '../../peers/helpers.ts'
import { startNodeSshd, sshExec, type SshServer } from './index.ts'

const exec = promisify(execFile)
type Sim = Awaited<ReturnType<typeof startSimulator>>
let sim: Sim
let api: ReturnType<typeof simApi>
let ssh: SshServer
let home: string

before(async () => {
  sim = await startSimulator({ inventory: 'sandbox', timeFactor: 0.01, seed: 5 })
  api = simApi(sim)
  ssh = await startNodeSshd(sim, sim.nodes[1].name)
  home = await mkdtemp(join(tmpdir(), 'pm-pass-'))
})
after(async () => {
  await ssh?.stop()
  await api?.close()
  await sim?.stop()
  if (home) await rm(home, { recursive: true, force: true })
})

test('pveum user/role/acl/token: the bootstrap pipeline stores a working token in pass', async () => {
  for (const cmd of [
    'pveum user add automation@pve --comment "proxmox-manager"',
    'pveum role add Provisioner --privs "VM.Audit VM.PowerMgmt Datastore.Audit"',
    'pveum acl modify /vms --user automation@pve --role Provisioner',
  ]) {
    const r = await sshExec(ssh, cmd)
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', ''], cmd)
  }

  const env = { ...process.env, GNUPGHOME: join(home, 'gnupg'), PASSWORD_STORE_DIR: join(home, 'store') }
  await exec('mkdir', ['-m', '700', env.GNUPGHOME])
  await exec('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', 'proxmox-manager test <test@example.invalid>', 'future-default', 'default', 'never'], { env })
  await exec('pass', ['init', 'test@example.invalid'], { env })
  const sshCommand = `ssh -F ${ssh.configFile} ${ssh.alias}`
  const pipeline = `${sshCommand} 'pveum user token add automation@pve ci --privsep 0 --output-format json' | jq -r '"automation@pve!ci\\n" + .value' | pass insert -m pve/ci`
  const piped = await exec('bash', ['-o', 'pipefail', '-c', pipeline], { env })
  assert.doesNotMatch(piped.stdout + piped.stderr, /[0-9a-f]{8}-[0-9a-f]{4}-/, 'the secret is never displayed')

  const [id, secret] = (await exec('pass', ['show', 'pve/ci'], { env })).stdout.split('\n')
  assert.equal(id, 'automation@pve!ci')
  assert.match(secret, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)

  // The token acts with automation@pve's rights: VMs visible (VM.Audit on /vms), cluster status not.
  const asToken = simApi({ ...sim, rootToken: { id, secret } })
  try {
    const vms = await asToken.call<unknown[]>('GET', '/cluster/resources', { type: 'vm' })
    assert.ok(vms.length > 0)
    await assert.rejects(asToken.call('GET', '/cluster/status'), /403 Permission check failed \(\/, Sys\.Audit\)/)
  } finally {
    await asToken.close()
  }

  const list = await sshExec(ssh, 'pveum user token list automation@pve --output-format json')
  assert.equal(list.code, 0, list.stderr)
  assert.deepEqual(JSON.parse(list.stdout).map((t: { tokenid: string; privsep: number }) => [t.tokenid, Number(t.privsep)]), [['ci', 0]])

  const roles = await sshExec(ssh, 'pveum role list --output-format json')
  const role = JSON.parse(roles.stdout).find((r: { roleid: string }) => r.roleid === 'Provisioner')
  assert.equal(role.privs, 'Datastore.Audit,VM.Audit,VM.PowerMgmt')
})

test('pveum refuses what PVE refuses, with its texts', async () => {
  const dup = await sshExec(ssh, 'pveum user add root@pam')
  assert.equal(dup.code, 255)
  assert.equal(dup.stderr, "create user failed: user 'root@pam' already exists\n")

  const tokenAgain = await sshExec(ssh, 'pveum user token add root@pam sim-dup && pveum user token add root@pam sim-dup')
  assert.equal(tokenAgain.code, 255)
  assert.match(tokenAgain.stderr, /Token already exists/)

  const removed = await sshExec(ssh, 'pveum user token remove root@pam sim-dup && pveum user token list root@pam --output-format json')
  assert.equal(removed.code, 0, removed.stderr)
  assert.ok(!JSON.parse(removed.stdout).some((t: { tokenid: string }) => t.tokenid === 'sim-dup'))

  const badRole = await sshExec(ssh, 'pveum acl modify / --user root@pam --role NoSuchRole')
  assert.equal(badRole.code, 255)
  assert.match(badRole.stderr, /role 'NoSuchRole' does not exist/)
})
