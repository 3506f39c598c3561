// A real OpenSSH sshd on loopback that plays one simulated PVE node: what users run over SSH on a
// PVE node (`qm`, `pveum`, `pvesh`, `wget` into a storage) is served by the shims in ./bin, which act
// on the simulator through its PVE API. Host key, user key, config and pid file are throwaway files
// in a per-run temp dir; nothing outside it is touched (except the privilege-separation dir).
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtemp, mkdir, readFile, rm, writeFile, symlink, chmod } from 'node:fs/promises'
import { createServer, connect } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const SHIM_BIN = resolve(dirname(fileURLToPath(import.meta.url)), 'bin')
const SSHD = process.env.SSHD_BIN ?? '/usr/sbin/sshd'

/** What the shims need to reach the simulated node (passed to every SSH session as environment). */
export interface SimNodeTarget {
  /** Node name, e.g. "pve1": `qm` acts on this node's VMs, as on a real PVE node. */
  node: string
  /** Base URL of that node's API, e.g. https://127.0.0.11:40123 */
  url: string
  /** PEM file of the simulator's CA. */
  caFile: string
  /** A full-access token; it reaches the shims only through the session environment. */
  token: { id: string; secret: string }
}

export interface SshServer {
  host: string
  port: number
  user: string
  /** Private key that the server accepts (no passphrase). */
  keyFile: string
  /** known_hosts with the server's throwaway host key, for StrictHostKeyChecking=yes. */
  knownHostsFile: string
  /** An ssh_config with a `Host <alias>` entry: `ssh -F configFile <alias> 'qm list'`. */
  configFile: string
  alias: string
  /** The node this server plays. */
  node: string
  /** Everything sshd logged (errors only), for failing tests. */
  log(): Promise<string>
  stop(): Promise<void>
}

export interface StartSshdOptions {
  target: SimNodeTarget
  /** Loopback address to listen on (default 127.0.0.1). */
  host?: string
  /** Name of the Host entry in configFile (default: the node name). */
  alias?: string
}

async function freePort(host: string): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer()
    srv.once('error', fail)
    srv.listen(0, host, () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => ok(port))
    })
  })
}

function assertLoopback(host: string): void {
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== '::1') throw new Error(`sshd harness listens on loopback only, not ${host}`)
}

/** Resolves once the server sends its SSH identification string. */
async function waitForBanner(host: string, port: number, child: ChildProcess, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`sshd exited (${child.exitCode ?? child.signalCode})`)
    const ok = await new Promise<boolean>((done) => {
      const sock = connect({ host, port })
      const finish = (v: boolean) => {
        sock.destroy()
        done(v)
      }
      sock.setTimeout(1000, () => finish(false))
      sock.once('data', (d) => finish(d.toString().startsWith('SSH-2.0-')))
      sock.once('error', () => finish(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('sshd did not answer within 10 s')
}

function sessionScript(pathDirs: string[]): string {
  // sshd runs ForceCommand through the user's login shell; this resets what that shell may have
  // set up and runs the requested command with only the PVE command shims on PATH.
  return [
    '#!/bin/bash',
    `export PATH='${pathDirs.join(':')}'`,
    'unset BASH_ENV ENV PYENV_ROOT',
    'export LANG=C.UTF-8',
    'cd /',
    'if [ -n "${SSH_ORIGINAL_COMMAND-}" ]; then',
    '  exec -a bash /bin/bash --noprofile --norc -c "$SSH_ORIGINAL_COMMAND"',
    'fi',
    'exec -a bash /bin/bash --noprofile --norc -s',
    '',
  ].join('\n')
}

export async function startSshd(opts: StartSshdOptions): Promise<SshServer> {
  const host = opts.host ?? '127.0.0.1'
  assertLoopback(host)
  const { target } = opts
  const alias = opts.alias ?? target.node
  const user = userInfo().username
  const dir = await mkdtemp(join(tmpdir(), 'pm-sshd-'))
  await chmod(dir, 0o700)
  const hostKey = join(dir, 'ssh_host_ed25519_key')
  const keyFile = join(dir, 'id_ed25519')
  const knownHostsFile = join(dir, 'known_hosts')
  const configFile = join(dir, 'ssh_config')
  const sshdConfig = join(dir, 'sshd_config')
  const logFile = join(dir, 'sshd.log')
  const nodeBin = join(dir, 'node-bin')

  await Promise.all([
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `sim-host-${target.node}`, '-f', hostKey]),
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'sim-user', '-f', keyFile]),
  ])
  await writeFile(join(dir, 'authorized_keys'), await readFile(`${keyFile}.pub`))
  // The shims are Node scripts (`#!/usr/bin/env node`): give them this very Node, and nothing else.
  await mkdir(nodeBin)
  await symlink(process.execPath, join(nodeBin, 'node'))
  await writeFile(join(dir, 'session'), sessionScript([SHIM_BIN, nodeBin]), { mode: 0o755 })
  if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 })

  const hostPub = (await readFile(`${hostKey}.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ')
  const spawnSshd = async (port: number): Promise<ChildProcess> => {
    const config = [
      `ListenAddress ${host.includes(':') ? `[${host}]` : host}:${port}`,
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `AllowUsers ${user}`,
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'UseDNS no',
      'PrintMotd no',
      'PrintLastLog no',
      'AllowTcpForwarding no',
      'X11Forwarding no',
      'PermitUserEnvironment no',
      'MaxStartups 64',
      'MaxSessions 64',
      'LogLevel ERROR',
      `ForceCommand ${join(dir, 'session')}`,
      // The shims read how to reach the simulated node from these (never from argv).
      `SetEnv PVE_SIM_NODE=${target.node} PVE_SIM_URL=${target.url} PVE_SIM_CA_FILE=${target.caFile} PVE_SIM_TOKEN_ID=${target.token.id} PVE_SIM_TOKEN_SECRET=${target.token.secret}`,
      '',
    ].join('\n')
    await writeFile(sshdConfig, config, { mode: 0o600 })
    await writeFile(knownHostsFile, `[${host}]:${port} ${hostPub}\n`)
    await writeFile(
      configFile,
      [
        `Host ${alias}`,
        `  HostName ${host}`,
        `  Port ${port}`,
        `  User ${user}`,
        `  IdentityFile ${keyFile}`,
        '  IdentitiesOnly yes',
        `  UserKnownHostsFile ${knownHostsFile}`,
        '  GlobalKnownHostsFile /dev/null',
        '  StrictHostKeyChecking yes',
        '  BatchMode yes',
        '  LogLevel ERROR',
        // One connection per server, multiplexed: sessions skip the handshake. The master is
        // started (and stopped) by the harness; clients only ever join it.
        '  ControlMaster no',
        `  ControlPath ${join(dir, 'mux')}`,
        '',
      ].join('\n'),
    )
    const child = spawn(SSHD, ['-D', '-e', '-f', sshdConfig, '-E', logFile], { stdio: 'ignore' })
    child.unref()
    return child
  }

  let child: ChildProcess | undefined
  let lastError: unknown
  let port = 0
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    port = await freePort(host)
    const candidate = await spawnSshd(port)
    try {
      await waitForBanner(host, port, candidate, Date.now() + 10_000)
      child = candidate
    } catch (err) {
      lastError = err
      candidate.kill('SIGKILL')
    }
  }
  if (!child) {
    const log = await readFile(logFile, 'utf8').catch(() => '')
    await rm(dir, { recursive: true, force: true })
    throw new Error(`could not start sshd: ${String(lastError)}\n${log}`)
  }

  // Best effort: without the master every session simply makes its own connection.
  await run('ssh', ['-F', configFile, '-o', 'ControlMaster=yes', '-o', 'ControlPersist=yes', '-N', '-f', alias]).catch(() => undefined)

  const running = child
  // A test process that dies without stop() must not leave sshd behind (the mux master exits
  // with its connection).
  const killOnExit = () => running.kill('SIGKILL')
  process.once('exit', killOnExit)
  let stopped = false
  return {
    host,
    port,
    user,
    keyFile,
    knownHostsFile,
    configFile,
    alias,
    node: target.node,
    log: () => readFile(logFile, 'utf8').catch(() => ''),
    async stop() {
      if (stopped) return
      stopped = true
      process.removeListener('exit', killOnExit)
      await run('ssh', ['-F', configFile, '-O', 'exit', alias]).catch(() => undefined)
      if (running.exitCode === null && running.signalCode === null) {
        const exited = new Promise((r) => running.once('exit', r))
        running.kill('SIGTERM')
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))])
        if (running.exitCode === null && running.signalCode === null) running.kill('SIGKILL')
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}

export interface SshResult {
  code: number
  stdout: string
  stderr: string
}

/** The ssh client arguments for `server`, up to and including the destination. */
export function sshArgs(server: SshServer): string[] {
  return ['-F', server.configFile, server.alias]
}

/** Runs `command` on the server through the real ssh client, like `ssh root@node '<command>'`. */
export async function sshExec(server: SshServer, command: string, opts: { input?: string; timeoutMs?: number } = {}): Promise<SshResult> {
  return new Promise((done, fail) => {
    const child = spawn('ssh', [...sshArgs(server), command], { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => err.push(d))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
    child.once('error', (e) => {
      clearTimeout(timer)
      fail(e)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      done({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() })
    })
    child.stdin.end(opts.input ?? '')
  })
}
