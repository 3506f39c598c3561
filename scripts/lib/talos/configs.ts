// Machine configs for every node of a profile: `talosctl gen config --with-secrets` with an
// explicit installer image (the factory's nocloud installer for the profile's schematic; never
// the TAG-dependent default), then per node the generated network patch and the user's patches
// (all/ → role/ → <node>/), applied with `talosctl machineconfig patch`, each result checked with
// `talosctl validate -m cloud --strict` (nocloud runs in cloud mode) before it replaces the old file.
import { mkdtemp, readdir, rename, rm, writeFile, chmod } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { ConfigError, TaskFailedError } from '../errors.ts'
import { expandMembers, type LoadedProfile, type ProfileMember, type Role } from '../profile.ts'
import { redact } from '../secrets.ts'
import { hasImageCache } from './image-cache.ts'
import { profileSchematic, DEFAULT_FACTORY } from './schematic.ts'
import { clusterPaths, ensureSecrets, privateDir, withPlainSecrets, type ClusterPaths } from './secrets.ts'
import type { Talosctl } from './talosctl.ts'
import { contractVersion, exactTalosVersion, normalizeKubernetesVersion, usesNetworkDocuments } from './versions.ts'

export interface TalosNode {
  name: string
  role: Role
  ip: string
  mac?: string
}

/** The profile's nodes in order: control planes first (the first one bootstraps etcd). */
export function talosNodes(profile: LoadedProfile): TalosNode[] {
  return expandMembers(profile).map((m: ProfileMember) => {
    if (!m.ip) throw new ConfigError([{ file: profile.file, path: [...m.at, 'ip'].join('.'), message: `is required: Talos nodes are reached by address (${m.name})` }])
    return { name: m.name, role: m.role, ip: m.ip, mac: m.mac }
  })
}

export function installerImage(profile: LoadedProfile, factoryUrl = DEFAULT_FACTORY): string {
  if (!profile.talos?.factory) return `ghcr.io/siderolabs/installer:${exactTalosVersion(profile)}`
  return profileSchematic(profile, factoryUrl).artifacts.installer
}

export interface NetworkSettings {
  prefix?: number
  gateway?: string
  nameservers: string[]
  link: string
  vip?: string
}

export function networkSettings(profile: LoadedProfile, fallbackNameservers: string[] = []): NetworkSettings {
  const net = profile.network
  return {
    prefix: net.prefix,
    gateway: net.gateway,
    nameservers: net.dns ?? fallbackNameservers,
    link: profile.talos?.vip?.interface ?? 'eth0',
    vip: profile.talos?.vip?.ip,
  }
}

/**
 * The generated per-node patch: hostname, static address, default route, nameservers, and on
 * control planes the VIP. Talos >= 1.12 gets documents (HostnameConfig, LinkConfig,
 * ResolverConfig, Layer2VIPConfig); older releases the machine.network fields.
 */
export function nodePatch(node: TalosNode, net: NetworkSettings, talosVersion: string): string {
  const vip = node.role === 'controlplane' ? net.vip : undefined
  const address = net.prefix !== undefined ? `${node.ip}/${net.prefix}` : undefined
  if (usesNetworkDocuments(talosVersion)) {
    const docs: Record<string, unknown>[] = [{ apiVersion: 'v1alpha1', kind: 'HostnameConfig', auto: 'off', hostname: node.name }]
    if (address) {
      docs.push({
        apiVersion: 'v1alpha1',
        kind: 'LinkConfig',
        name: net.link,
        up: true,
        addresses: [{ address }],
        ...(net.gateway ? { routes: [{ gateway: net.gateway }] } : {}),
      })
    }
    if (net.nameservers.length) docs.push({ apiVersion: 'v1alpha1', kind: 'ResolverConfig', nameservers: net.nameservers.map((a) => ({ address: a })) })
    if (vip) docs.push({ apiVersion: 'v1alpha1', kind: 'Layer2VIPConfig', name: vip, link: net.link })
    return docs.map((d) => stringify(d)).join('---\n')
  }
  const iface: Record<string, unknown> = { interface: net.link }
  if (address) iface.addresses = [address]
  if (address && net.gateway) iface.routes = [{ network: '0.0.0.0/0', gateway: net.gateway }]
  if (vip) iface.vip = { ip: vip }
  const network: Record<string, unknown> = { hostname: node.name }
  if (net.nameservers.length) network.nameservers = net.nameservers
  if (address || vip) network.interfaces = [iface]
  return stringify({ machine: { network } })
}

/** User patch files for a node, in application order: all/, the role's directory, the node's. */
export async function userPatches(patchesDir: string | undefined, node: TalosNode): Promise<string[]> {
  if (!patchesDir) return []
  const out: string[] = []
  for (const sub of ['all', node.role, node.name]) {
    const dir = join(patchesDir, sub)
    if (!existsSync(dir)) continue
    const files = (await readdir(dir)).filter((f) => /\.(ya?ml|json)$/.test(f)).sort()
    out.push(...files.map((f) => join(dir, f)))
  }
  return out
}

export interface ConfigOptions {
  factoryUrl?: string
  /** Nameservers when the profile has none (cloudinit.nameservers of cluster-config.yaml). */
  nameservers?: string[]
  /** machine.features.imageCache.localEnabled for nodes booted from an image with a cache (default: whether talos:image-cache built one). */
  imageCache?: boolean
  onProgress?: (message: string) => void
}

export interface GeneratedConfigs {
  paths: ClusterPaths
  nodes: { node: TalosNode; file: string; patches: string[] }[]
  installer: string
  secretsCreated: boolean
}

export function apiEndpointUrl(profile: LoadedProfile, nodes: TalosNode[]): string {
  const host = profile.network.api_endpoint ?? profile.talos?.vip?.ip ?? nodes.find((n) => n.role === 'controlplane')?.ip
  if (!host) throw new ConfigError([{ file: profile.file, path: 'network.api_endpoint', message: 'is required for Talos clusters' }])
  if (/^https?:\/\//.test(host)) return host
  return /:\d+$/.test(host) ? `https://${host}` : `https://${host}:6443`
}

/** Generates, patches and validates every node's config, then writes them to config_dir (0600). */
export async function generateConfigs(profile: LoadedProfile, talosctl: Talosctl, opts: ConfigOptions = {}): Promise<GeneratedConfigs> {
  const progress = opts.onProgress ?? (() => {})
  const talos = profile.talos!
  const paths = clusterPaths(profile)
  const version = exactTalosVersion(profile)
  const kubernetes = normalizeKubernetesVersion(talos.kubernetes_version)
  const nodes = talosNodes(profile)
  const installer = installerImage(profile, opts.factoryUrl)
  const net = networkSettings(profile, opts.nameservers)
  const secrets = await ensureSecrets(paths, talosctl, { talosVersion: version })
  if (secrets.created) progress(`generated the cluster secrets: ${secrets.path}`)

  await privateDir(paths.configDir)
  const work = await mkdtemp(join(paths.configDir, '.gen-'))
  try {
    const clusterPatch = join(work, 'cluster.patch.yaml')
    const cluster: Record<string, unknown> = {}
    if (profile.network.pod_cidr || profile.network.service_cidr) {
      cluster.network = {
        ...(profile.network.pod_cidr ? { podSubnets: [profile.network.pod_cidr] } : {}),
        ...(profile.network.service_cidr ? { serviceSubnets: [profile.network.service_cidr] } : {}),
      }
    }
    const machine = (opts.imageCache ?? hasImageCache(paths)) ? { features: { imageCache: { localEnabled: true } } } : undefined
    await writeFile(clusterPatch, stringify({ ...(machine ? { machine } : {}), ...(Object.keys(cluster).length ? { cluster } : {}) }), { mode: 0o600 })

    await withPlainSecrets(paths, (secretsFile) =>
      talosctl.offline([
        'gen', 'config', profile.name, apiEndpointUrl(profile, nodes),
        '--with-secrets', secretsFile,
        '--install-image', installer,
        '--kubernetes-version', kubernetes,
        '--talos-version', contractVersion(version),
        '--config-patch', `@${clusterPatch}`,
        '--with-docs=false', '--with-examples=false',
        '--output', work, '--force',
      ]),
    )
    progress(`generated base configs for ${profile.name} (installer ${installer}, Kubernetes ${kubernetes})`)

    const results: GeneratedConfigs['nodes'] = []
    for (const node of nodes) {
      const own = join(work, `${node.name}.patch.yaml`)
      await writeFile(own, nodePatch(node, net, version), { mode: 0o600 })
      const patches = await userPatches(paths.patchesDir, node)
      const out = join(work, `${node.name}.yaml`)
      const base = join(work, node.role === 'controlplane' ? 'controlplane.yaml' : 'worker.yaml')
      await talosctl.offline(['machineconfig', 'patch', base, ...[own, ...patches].flatMap((p) => ['--patch', `@${p}`]), '--output', out])
      const check = await talosctl.offline(['validate', '--mode', 'cloud', '--strict', '--config', out], { nothrow: true })
      if (!check.ok) {
        throw new TaskFailedError(`the config of ${node.name} is not valid for Talos ${version} (cloud mode)`, {
          logTail: redact(check.stderr || check.stdout).trim().split('\n').slice(-10),
          hint: patches.length ? `check the patches applied to it: ${patches.join(', ')}` : undefined,
        })
      }
      results.push({ node, file: paths.nodeConfig(node.name), patches })
    }

    // Endpoints are the control-plane addresses, never the VIP (talosctl hangs on it: talos#11830).
    const controlPlanes = nodes.filter((n) => n.role === 'controlplane').map((n) => n.ip)
    const talosconfig = join(work, 'talosconfig')
    await talosctl.offline(['config', 'endpoint', ...controlPlanes, '--talosconfig', talosconfig])
    await talosctl.offline(['config', 'node', controlPlanes[0], '--talosconfig', talosconfig])

    for (const r of results) await moveInto(join(work, `${r.node.name}.yaml`), r.file)
    await moveInto(talosconfig, paths.talosconfig)
    progress(`wrote ${results.length} node configs and talosconfig to ${paths.configDir}`)
    return { paths, nodes: results, installer, secretsCreated: secrets.created }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

async function moveInto(from: string, to: string): Promise<void> {
  await chmod(from, 0o600)
  await rename(from, to)
}
