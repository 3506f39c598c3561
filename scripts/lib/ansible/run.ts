// Runs ansible-playbook for the tasks: from ansible/ (its ansible.cfg and dynamic inventory), with
// the project's pinned Ansible (.tools/venv) and the environment the playbooks expect. The PVE token
// only travels in the environment (PROXMOX_TOKEN_SECRET for the community.proxmox modules,
// PVE_TOKEN_* for the inventory script), never on the command line or in an inventory file; the
// child's output is redacted line by line before it is printed.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import type { ClusterConfig } from '../config.ts'
import type { Credentials } from '../credentials.ts'
import { PmError, EXIT, type ExitCode } from '../errors.ts'
import { redact } from '../secrets.ts'

const REPO_ROOT = resolve(import.meta.dirname, '../../..')
export const ANSIBLE_DIR = join(REPO_ROOT, 'ansible')
export const PLAYBOOKS = ['pve-servers', 'ping', 'reboot-vms', 'talos-provision-vms'] as const
export type Playbook = (typeof PLAYBOOKS)[number]

/** The pinned ansible-playbook from scripts/setup.d/ansible.sh, else whatever is on PATH. */
export function ansibleBinary(name = 'ansible-playbook'): string {
  const pinned = join(REPO_ROOT, '.tools', 'venv', 'bin', name)
  return existsSync(pinned) ? pinned : name
}

export interface PlaybookEnvOptions {
  /** Credentials for the playbooks that talk to the PVE API (reboot-vms, provisioning); none for SSH-only plays. */
  credentials?: Credentials
  /** Restricts the inventory to one cluster profile. */
  profile?: string
}

/** The child environment: ours, plus where the config is, the API credentials and the CA. */
export function playbookEnv(config: ClusterConfig, opts: PlaybookEnvOptions, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !/^(PVE_TOKEN_|PROXMOX_)/.test(k)) env[k] = v
  Object.assign(env, {
    PATH: `${join(REPO_ROOT, '.tools', 'bin')}:${dirname(process.execPath)}:${base.PATH ?? ''}`,
    PVE_CONFIG: config.file,
    // The inventory script runs from ansible/: profiles and cluster state as the caller sees them.
    PM_CLUSTERS_DIR: resolve(base.PM_CLUSTERS_DIR ?? 'clusters'),
    PM_STATE_DIR: resolve(base.PM_STATE_DIR ?? '.state'),
    ANSIBLE_CONFIG: join(ANSIBLE_DIR, 'ansible.cfg'),
    ANSIBLE_NOCOLOR: base.ANSIBLE_NOCOLOR ?? (process.stdout.isTTY ? '0' : '1'),
  })
  if (opts.profile) env.PM_PROFILE = opts.profile
  const creds = opts.credentials
  if (creds) {
    const [user, token] = creds.tokenId.split('!')
    Object.assign(env, {
      PVE_TOKEN_ID: creds.tokenId,
      PVE_TOKEN_SECRET: creds.secret,
      PROXMOX_USER: user,
      PROXMOX_TOKEN_ID: token,
      PROXMOX_TOKEN_SECRET: creds.secret,
    })
    // proxmoxer verifies with requests: the cluster CA replaces the system bundle for these calls.
    if (config.tls.ca_file) env.REQUESTS_CA_BUNDLE = config.tls.ca_file
  } else {
    env.PM_INVENTORY_API = '0' // host plays: the inventory needs no API, and gets no token
  }
  return env
}

export interface PlaybookRun {
  playbook: Playbook
  args: string[]
  env: Record<string, string>
  /** Capture stdout (e.g. the JSON callback) instead of printing it. */
  capture?: boolean
}

export interface PlaybookResult {
  code: number
  stdout: string
}

/** Runs the playbook; output is redacted and printed (or captured). Resolves with its exit code. */
export function runPlaybook(run: PlaybookRun): Promise<PlaybookResult> {
  const file = join(ANSIBLE_DIR, 'playbooks', `${run.playbook}.yaml`)
  return new Promise((done, fail) => {
    const child = spawn(ansibleBinary(), [...run.args, file], { cwd: ANSIBLE_DIR, env: run.env, stdio: ['inherit', 'pipe', 'pipe'] })
    let captured = ''
    const forward = (stream: NodeJS.ReadableStream, out: NodeJS.WritableStream, keep: boolean) => {
      let pending = ''
      stream.setEncoding('utf8')
      stream.on('data', (chunk: string) => {
        pending += chunk
        const end = pending.lastIndexOf('\n') + 1
        if (!end) return
        const lines = redact(pending.slice(0, end))
        pending = pending.slice(end)
        if (keep) captured += lines
        else out.write(lines)
      })
      stream.on('end', () => {
        if (!pending) return
        if (keep) captured += redact(pending)
        else out.write(redact(pending))
      })
    }
    forward(child.stdout, process.stdout, Boolean(run.capture))
    forward(child.stderr, process.stderr, false)
    child.once('error', (e: NodeJS.ErrnoException) =>
      fail(new PmError(e.code === 'ENOENT' ? 'ansible-playbook is not installed' : `could not run ansible-playbook: ${e.message}`, EXIT.usage, 'run task setup (installs Ansible into .tools/venv)')),
    )
    child.once('close', (code, signal) => done({ code: code ?? (signal ? 128 : 1), stdout: captured }))
  })
}

/** ansible-playbook's exit codes: 2 failed tasks, 4 unreachable hosts, 8 bad options... → ours. */
export function playbookExit(code: number): ExitCode {
  if (code === 0) return EXIT.ok
  if (code === 4) return EXIT.api
  if (code === 5 || code === 250) return EXIT.usage
  return EXIT.taskFailed
}
