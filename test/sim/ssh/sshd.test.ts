// The sshd harness itself: a real sshd on loopback with throwaway keys, sessions that only see the
// PVE command shims, and the shims' CLI front end (command resolution, option parsing, error texts
// and exit codes of PVE::CLIHandler) — all without a simulator behind it.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { startSshd, sshExec, type SshServer } from './sshd.ts'

let server: SshServer
const secret = 'harness-test-secret-0b6f'

before(async () => {
  server = await startSshd({
    host: '127.0.0.1',
    target: { node: 'pve1', url: 'https://127.0.0.1:9', caFile: '/nonexistent/ca.pem', token: { id: 'root@pam!harness', secret } },
  })
})
after(async () => server?.stop())

test('sshd listens on loopback and exposes keys, known_hosts and an ssh_config entry', async () => {
  assert.equal(server.host, '127.0.0.1')
  assert.ok(server.port > 0)
  const r = await sshExec(server, 'echo "node=$PVE_SIM_NODE"; echo "token=${PVE_SIM_TOKEN_SECRET:+present}"')
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, 'node=pve1\ntoken=present\n')
})

test('the host key is checked: a client with someone else\'s known_hosts is refused', async () => {
  const other = `${server.knownHostsFile}.other`
  await writeFile(other, `[${server.host}]:${server.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMtPsr5E5gT0K2f0k6o8Vw7mC0sXo1o2yZc0m6cJgWkI\n`)
  const r = await new Promise<{ code: number | null; stderr: string }>((done) => {
    const child = spawn('ssh', ['-i', server.keyFile, '-p', String(server.port), '-o', `UserKnownHostsFile=${other}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-F', '/dev/null', `${server.user}@${server.host}`, 'true'])
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code) => done({ code, stderr }))
  })
  assert.equal(r.code, 255)
  assert.match(r.stderr, /HOST IDENTIFICATION HAS CHANGED|Host key verification failed/)
})

test('sessions resolve only the PVE shims: other commands are not found', async () => {
  const r = await sshExec(server, 'command -v qm pveum pvesh wget; ls /')
  assert.equal(r.code, 127)
  assert.deepEqual(r.stdout.trim().split('\n').map((p) => p.split('/').pop()), ['qm', 'pveum', 'pvesh', 'wget'])
  assert.match(r.stderr, /^bash: line 1: ls: command not found$/m)
})

test('the token never appears in a command line on the node', async () => {
  const r = await sshExec(server, `for f in /proc/[0-9]*/cmdline; do read -r -d '' line < "$f" && echo "$line"; done 2>/dev/null; true`)
  assert.equal(r.code, 0)
  assert.ok(!r.stdout.includes(secret))
})

test('unknown command: the CLI\'s error text, the short usage on stderr, exit 255', async () => {
  const r = await sshExec(server, 'qm frobnicate 100')
  assert.equal(r.code, 255)
  assert.equal(r.stdout, '')
  const lines = r.stderr.split('\n')
  assert.equal(lines[0], "ERROR: unknown command 'qm frobnicate'")
  assert.equal(lines[1], 'USAGE: qm <COMMAND> [ARGS] [OPTIONS]')
  assert.ok(lines.includes('       qm set <vmid> [OPTIONS]'))
  assert.ok(lines.includes('       qm disk import <vmid> <source> <storage> [OPTIONS]'))
})

test('incomplete and missing commands, aliases and unique prefixes resolve like PVE::CLIHandler', async () => {
  const incomplete = await sshExec(server, 'pveum user token')
  assert.equal(incomplete.code, 255)
  assert.match(incomplete.stderr, /^ERROR: incomplete command 'pveum user token'\nUSAGE: pveum <COMMAND> \[ARGS\] \[OPTIONS\]\n {7}pveum user token add <userid> <tokenid> \[OPTIONS\]\n/)

  const none = await sshExec(server, 'pvesh')
  assert.equal(none.code, 255)
  assert.match(none.stderr, /^ERROR: no command specified\n/)

  const help = await sshExec(server, 'qm help importdisk; qm help sna')
  assert.equal(help.code, 0, help.stderr)
  assert.equal(help.stdout, 'USAGE: qm disk import <vmid> <source> <storage> [OPTIONS]\nUSAGE: qm snapshot <vmid> <snapname> [OPTIONS]\n')
})

test('option errors are 400 exceptions with the command usage, before any API call', async () => {
  const missing = await sshExec(server, 'qm config')
  assert.equal(missing.code, 255)
  assert.equal(missing.stderr, '400 not enough arguments\nqm config <vmid> [OPTIONS]\n')

  const unknown = await sshExec(server, 'qm config 100 --colour red')
  assert.equal(unknown.code, 255)
  assert.equal(unknown.stderr, 'Unknown option: colour\n400 unable to parse option\nqm config <vmid> [OPTIONS]\n')

  const extra = await sshExec(server, 'qm start 100 101')
  assert.equal(extra.stderr, '400 too many arguments\nqm start <vmid> [OPTIONS]\n')

  const badBool = await sshExec(server, 'pveum user token add u@pve t --privsep maybe')
  assert.equal(badBool.code, 255)
  assert.equal(badBool.stderr, '400 unable to parse boolean option\npveum user token add <userid> <tokenid> [OPTIONS]\n')
})
