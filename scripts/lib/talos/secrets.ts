// The cluster's secrets bundle (`talosctl gen secrets`): generated once, kept out of git (mode
// 0600 in a 0700 directory), SOPS-encrypted when its name says so (*.sops.yaml), and never
// regenerated for a cluster that has secrets or has been bootstrapped (losing them locks the
// operator out of a running cluster: cluster-template#1358, talhelper#926).
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile, rename } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { parse } from 'yaml'
import { ConflictError, RefusedError, UsageError } from '../errors.ts'
import { registerSecret } from '../secrets.ts'
import { sh } from '../shell.ts'
import type { LoadedProfile } from '../profile.ts'
import type { Talosctl } from './talosctl.ts'
import { contractVersion } from './versions.ts'

export interface ClusterPaths {
  configDir: string
  secretsFile: string
  talosconfig: string
  kubeconfig: string
  /** Written after the one etcd bootstrap; its presence forbids new secrets. */
  bootstrapMarker: string
  patchesDir?: string
  backupsDir: string
  imageCacheDir: string
  nodeConfig(name: string): string
}

/** Where a profile's Talos files live; relative paths are relative to the working directory (the repo root for tasks). */
export function clusterPaths(profile: LoadedProfile): ClusterPaths {
  const talos = profile.talos
  if (!talos) throw new UsageError(`profile ${profile.name} has no talos section (type: ${profile.type})`)
  const configDir = resolve(talos.config_dir)
  return {
    configDir,
    secretsFile: resolve(configDir, talos.secrets_file),
    talosconfig: join(configDir, 'talosconfig'),
    kubeconfig: join(configDir, 'kubeconfig'),
    bootstrapMarker: join(configDir, '.bootstrapped'),
    patchesDir: talos.patches_dir ? resolve(configDir, talos.patches_dir) : undefined,
    backupsDir: join(configDir, 'backups'),
    imageCacheDir: join(configDir, 'image-cache'),
    nodeConfig: (name) => join(configDir, `${name}.yaml`),
  }
}

export const isSopsFile = (path: string) => /\.sops\.ya?ml$/.test(path)

/** Creates a directory for private files: 0700, also when it already existed. */
export async function privateDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 })
  await chmod(path, 0o700)
}

/** Refuses a path inside a git work tree unless git ignores it (encrypted files may be committed). */
export async function assertNotCommittable(path: string): Promise<void> {
  let dir = dirname(path)
  while (!existsSync(dir)) dir = dirname(dir)
  const top = await sh()({ nothrow: true, cwd: dir })`git rev-parse --show-toplevel`
  if (top.exitCode !== 0) return // not in a repository
  const ignored = await sh()({ nothrow: true, cwd: top.stdout.trim() })`git check-ignore -q --no-index ${path}`
  if (ignored.exitCode === 0) return
  throw new RefusedError(
    `${path} is inside the git repository ${top.stdout.trim()} and not ignored: the Talos secrets would be committable`,
    'put talos.config_dir under a git-ignored directory (e.g. .state/), add it to .gitignore, or name the file *.sops.yaml to store it encrypted',
  )
}

/** Registers every value of a secrets bundle, so no output can show them. */
export function registerBundleSecrets(text: string): void {
  const walk = (v: unknown) => {
    if (typeof v === 'string') {
      if (v.length >= 8) registerSecret(v)
    } else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x)
  }
  walk(parse(text))
}

async function sopsBinary(): Promise<string> {
  const bin = process.env.PM_SOPS ?? 'sops'
  const found = await sh()({ nothrow: true })`command -v ${bin}`
  if (found.exitCode !== 0) {
    throw new UsageError(`the secrets file is SOPS-encrypted (*.sops.yaml) but \`${bin}\` is not installed`, 'install sops (https://github.com/getsops/sops) with an age key, or name the secrets file without .sops to keep it as a git-ignored plain file')
  }
  return bin
}

export interface SecretsResult {
  path: string
  created: boolean
  encrypted: boolean
}

/**
 * Generates the secrets bundle unless it exists. Never overwrites, and refuses to create new
 * secrets for a cluster that was bootstrapped (they would not match the running cluster).
 */
export async function ensureSecrets(paths: ClusterPaths, talosctl: Talosctl, opts: { talosVersion: string; regenerate?: boolean }): Promise<SecretsResult> {
  const encrypted = isSopsFile(paths.secretsFile)
  if (existsSync(paths.secretsFile)) {
    if (opts.regenerate) {
      throw new ConflictError(
        `secrets already exist at ${paths.secretsFile}: regenerating them would lock you out of every node configured with them`,
        'keep them (they are reused on every run); to start a cluster from scratch, tear it down and remove the file yourself',
      )
    }
    await checkMode(paths.secretsFile, encrypted)
    return { path: paths.secretsFile, created: false, encrypted }
  }
  if (existsSync(paths.bootstrapMarker)) {
    throw new RefusedError(
      `the cluster was bootstrapped (${paths.bootstrapMarker}) but its secrets are missing at ${paths.secretsFile}: new secrets would not match the running cluster`,
      'restore the secrets file from your backup; do not generate new ones',
    )
  }
  if (!encrypted) await assertNotCommittable(paths.secretsFile)
  await privateDir(paths.configDir)
  await privateDir(dirname(paths.secretsFile))
  const work = await mkdtemp(join(paths.configDir, '.secrets-'))
  try {
    const plain = join(work, 'secrets.yaml')
    await talosctl.offline(['gen', 'secrets', '--output-file', plain, '--talos-version', contractVersion(opts.talosVersion)])
    const text = await readFile(plain, 'utf8')
    registerBundleSecrets(text)
    const tmp = `${paths.secretsFile}.tmp`
    if (encrypted) {
      const sops = await sopsBinary()
      const out = await sh()({ cwd: dirname(paths.secretsFile) })`${sops} --encrypt --input-type yaml --output-type yaml ${plain}`
      await writeFile(tmp, out.stdout, { mode: 0o600, flag: 'wx' })
    } else {
      await writeFile(tmp, text, { mode: 0o600, flag: 'wx' })
    }
    await rename(tmp, paths.secretsFile)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  return { path: paths.secretsFile, created: true, encrypted }
}

async function checkMode(path: string, encrypted: boolean): Promise<void> {
  if (encrypted) return
  const mode = (await stat(path)).mode & 0o777
  if (mode & 0o077) await chmod(path, 0o600) // tighten what an editor or a copy loosened
}

/**
 * Runs `fn` with a plaintext secrets file: the file itself, or for SOPS a decrypted copy in a
 * private temporary directory that is removed afterwards.
 */
export async function withPlainSecrets<T>(paths: ClusterPaths, fn: (plainPath: string) => Promise<T>): Promise<T> {
  if (!isSopsFile(paths.secretsFile)) {
    registerBundleSecrets(await readFile(paths.secretsFile, 'utf8'))
    return fn(paths.secretsFile)
  }
  const sops = await sopsBinary()
  const dir = await mkdtemp(join(paths.configDir, '.plain-'))
  try {
    const out = await sh()({ cwd: dirname(paths.secretsFile) })`${sops} --decrypt --input-type yaml --output-type yaml ${paths.secretsFile}`
    registerBundleSecrets(out.stdout)
    const plain = join(dir, 'secrets.yaml')
    await writeFile(plain, out.stdout, { mode: 0o600 })
    return await fn(plain)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
