// The image cache of an air-gapped Talos cluster: the images the nodes pull (the Kubernetes
// bundle of the profile's Kubernetes version, `talosctl images k8s-bundle`, which is offline, plus
// the user's own list), cached with `talosctl images cache-create` into
// <config_dir>/image-cache (built next to it and swapped in, so a failed pull leaves the old cache),
// and the list it was built from beside it. The boot image is then built with the Talos imager's
// image-cache option; configs generated while the cache exists set
// machine.features.imageCache.localEnabled (see configs.ts).
import { existsSync } from 'node:fs'
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import { ConfigError, ConflictError } from '../errors.ts'
import type { ClusterPaths } from './secrets.ts'
import { privateDir } from './secrets.ts'
import type { Talosctl } from './talosctl.ts'

export interface ImageCachePlan {
  images: string[]
  /** The talosctl whose bundle defaults (etcd, CoreDNS, Flannel) were used, when it is not the profile's release. */
  clientVersion?: string
}

/** The list file recorded next to the cache; its presence (with the cache) turns localEnabled on. */
export const imageListFile = (paths: ClusterPaths) => `${paths.imageCacheDir}.images.txt`

export const hasImageCache = (paths: ClusterPaths) => existsSync(paths.imageCacheDir) && existsSync(imageListFile(paths))

/** Image references from a file: one per line, blank lines and # comments ignored. */
export async function readImageList(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8')
  const out: string[] = []
  const issues: { file: string; line: number; path: string; message: string }[] = []
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim()
    if (!line) return
    if (/\s/.test(line) || !/^[a-z0-9][a-z0-9._\-/:@]*$/i.test(line)) issues.push({ file, line: i + 1, path: 'image', message: `"${line}" is not an image reference such as ghcr.io/org/app:v1.2.3` })
    else out.push(line)
  })
  if (issues.length) throw new ConfigError(issues)
  return out
}

export async function imageList(talosctl: Talosctl, kubernetesVersion: string, extra: string[], talosVersion: string): Promise<ImageCachePlan> {
  const bundle = await talosctl.offline(['images', 'k8s-bundle', '--k8s-version', kubernetesVersion])
  const images = [...new Set([...bundle.stdout.split('\n').map((l) => l.trim()).filter(Boolean), ...extra])]
  const client = await talosctl.offline(['version', '--client'], { nothrow: true })
  const clientVersion = /Tag:\s*(\S+)/.exec(client.stdout)?.[1]
  return { images, clientVersion: clientVersion && clientVersion !== talosVersion ? clientVersion : undefined }
}

export interface BuildResult {
  dir: string
  listFile: string
  images: string[]
  /** Nothing was pulled: the cache exists and was built from the same list. */
  upToDate: boolean
}

/** Builds the cache unless it exists for the same list; `rebuild` pulls again anyway. */
export async function buildImageCache(talosctl: Talosctl, paths: ClusterPaths, images: string[], opts: { rebuild?: boolean; platform?: string; timeoutMs?: number } = {}): Promise<BuildResult> {
  const listFile = imageListFile(paths)
  const list = images.join('\n') + '\n'
  if (hasImageCache(paths) && !opts.rebuild) {
    if ((await readFile(listFile, 'utf8')) === list) return { dir: paths.imageCacheDir, listFile, images, upToDate: true }
  }
  if (existsSync(paths.imageCacheDir) && !hasImageCache(paths) && !opts.rebuild) {
    throw new ConflictError(`${paths.imageCacheDir} exists but was not built by this tool (no ${listFile})`, 'move it away, or pass --rebuild to replace it')
  }
  await privateDir(paths.configDir)
  const building = `${paths.imageCacheDir}.building`
  await rm(building, { recursive: true, force: true })
  try {
    // Not offline: cache-create pulls every image from its registry (or the configured mirror).
    await talosctl.run(['images', 'cache-create', '--image-cache-path', building, '--images=-', '--layout', 'oci', '--platform', opts.platform ?? 'linux/amd64'], {
      input: list,
      timeoutMs: opts.timeoutMs ?? 60 * 60_000,
    })
    await rm(paths.imageCacheDir, { recursive: true, force: true })
    await rename(building, paths.imageCacheDir)
    await writeFile(listFile, list)
  } finally {
    await rm(building, { recursive: true, force: true })
  }
  return { dir: paths.imageCacheDir, listFile, images, upToDate: false }
}
