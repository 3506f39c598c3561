// SSH to a PVE node, for the few things the API cannot do (HA node maintenance, pveum during the
// credential bootstrap). argv only, no local shell; host keys must already be trusted
// (StrictHostKeyChecking=yes: first trust is an explicit, separate step); never a password prompt.
import { spawn, type ChildProcess } from 'node:child_process'
import type { ClusterConfig } from '../config.ts'
import { NotFoundError, TaskFailedError } from '../errors.ts'
import { redact } from '../secrets.ts'
import { debug } from '../cli.ts'

export interface SshTarget {
  user: string
  host: string
  node: string
}

export function sshTarget(config: Pick<ClusterConfig, 'cluster' | 'credentials'>, node?: string): SshTarget {
  const entry = node ? config.cluster.nodes.find((n) => n.name === node) : config.cluster.nodes[0]
  if (!entry) throw new NotFoundError(`node '${node}' is not listed in cluster.nodes of the config`)
  return { user: config.credentials.ssh_user, host: entry.host, node: entry.name }
}

/** ssh argv: PM_SSH_CONFIG names an ssh_config file (port, identity, known hosts) when needed. */
export function sshArgv(t: SshTarget, remoteCommand: string): string[] {
  const args = ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=10']
  if (process.env.PM_SSH_CONFIG) args.unshift('-F', process.env.PM_SSH_CONFIG)
  return [...args, '-l', t.user, t.host, '--', remoteCommand]
}

export interface SshResult {
  stdout: string
  stderr: string
}

/** Runs one remote command and collects its output; non-zero exit → TaskFailedError. */
export function sshRun(t: SshTarget, remoteCommand: string, opts: { allowFail?: boolean } = {}): Promise<SshResult & { code: number }> {
  debug(`ssh ${t.user}@${t.host}: ${remoteCommand}`)
  return new Promise((resolve, reject) => {
    const child = spawnSsh(t, remoteCommand, ['ignore', 'pipe', 'pipe'])
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout!.on('data', (b: Buffer) => out.push(b))
    child.stderr!.on('data', (b: Buffer) => err.push(b))
    child.on('error', (e) => reject(sshError(t, remoteCommand, e.message)))
    child.on('close', (code) => {
      const res = { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code: code ?? 255 }
      if (res.code !== 0 && !opts.allowFail) return reject(sshError(t, remoteCommand, res.stderr.trim().split('\n').slice(-3).join(' ') || `exit code ${res.code}`))
      resolve(res)
    })
  })
}

export function spawnSsh(t: SshTarget, remoteCommand: string, stdio: ('ignore' | 'pipe')[]): ChildProcess {
  const env = { ...process.env }
  delete env.SSH_ASKPASS // BatchMode already forbids prompts; make sure nothing asks anyway
  return spawn('ssh', sshArgv(t, remoteCommand), { stdio: stdio as never, env })
}

function sshError(t: SshTarget, cmd: string, why: string): TaskFailedError {
  return new TaskFailedError(redact(`ssh ${t.user}@${t.host} '${cmd.split(' ').slice(0, 4).join(' ')} …' failed: ${why}`), {
    hint: 'check credentials.ssh_user, that your key is authorized on the node and its host key is in known_hosts',
  })
}
