// A Debian bookworm root (Proxmox VE 8's base) for applying the host roles through Ansible's chroot
// connection. debootstrap (variant minbase, plus what the roles install, so the test needs no
// network after the first run) runs once; the result is cached as a tarball under
// ~/.cache/proxmox-manager and unpacked fresh for every run. chroot needs root: run as root (CI does).
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'

const SUITE = 'bookworm'
// Python for Ansible (python3-apt for the apt module), what the roles install, and
// python3-cffi-backend, which debootstrap's resolver misses (a virtual dependency of cryptography).
const PACKAGES = ['python3', 'python3-apt', 'python3-venv', 'python3-cffi-backend', 'sudo', 'chrony', 'ifupdown2', 'certbot', 'prometheus-node-exporter']
// The machine's Debian mirror (see /etc/apt/sources.list.d); PM_DEBIAN_MIRROR overrides it.
const MIRROR = process.env.PM_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian'

export const cacheDir = (): string => join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'proxmox-manager')

function run(cmd: string, args: string[], what: string): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (r.status !== 0) throw new Error(`${what} failed (${cmd} exit ${r.status ?? r.signal}):\n${(r.stderr || r.stdout || String(r.error)).slice(-4000)}`)
}

/** The cached tarball of the root, made with debootstrap when missing. */
export function debianRootTarball(): string {
  if (process.getuid?.() !== 0) throw new Error('the host-role tests need root (debootstrap and chroot); run them as root, as CI does')
  const key = createHash('sha256').update(JSON.stringify([SUITE, PACKAGES, MIRROR])).digest('hex').slice(0, 12)
  const tarball = join(cacheDir(), `debian-${SUITE}-minbase-${key}.tar`)
  if (existsSync(tarball)) return tarball
  mkdirSync(cacheDir(), { recursive: true })
  const work = mkdtempSync(join(tmpdir(), 'pm-debootstrap-'))
  try {
    const root = join(work, 'root')
    run('debootstrap', ['--variant=minbase', `--include=${PACKAGES.join(',')}`, SUITE, root, MIRROR], 'debootstrap')
    // Downloaded .debs are not part of the root we want to keep.
    rmSync(join(root, 'var/cache/apt/archives'), { recursive: true, force: true })
    mkdirSync(join(root, 'var/cache/apt/archives/partial'), { recursive: true })
    const tmp = `${tarball}.${process.pid}.tmp`
    run('tar', ['-C', root, '--numeric-owner', '-cf', tmp, '.'], 'packing the root')
    renameSync(tmp, tarball)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  return tarball
}

/** A fresh copy of the root in a new temporary directory; remove it with rmSync when done. */
export function freshDebianRoot(): string {
  const tarball = debianRootTarball()
  const root = mkdtempSync(join(tmpdir(), 'pm-debian-root-'))
  run('tar', ['-C', root, '--numeric-owner', '-xf', tarball], 'unpacking the root')
  if (!readdirSync(join(root, 'usr/bin')).includes('python3')) throw new Error(`${tarball} holds no python3: remove it so it is made again`)
  return root
}

/** Wheels of a PyPI package and its dependencies, downloaded once (for hosts without PyPI). */
export function wheelhouse(pip: string, requirement: string): string {
  const dir = join(cacheDir(), `wheels-${requirement.replace(/[^A-Za-z0-9.=-]/g, '_')}`)
  if (existsSync(join(dir, '.complete'))) return dir
  mkdirSync(dir, { recursive: true })
  run(pip, ['download', '--quiet', '--disable-pip-version-check', '--only-binary=:all:', '--dest', dir, requirement], `downloading ${requirement}`)
  run('touch', [join(dir, '.complete')], 'marking the wheelhouse complete')
  return dir
}
