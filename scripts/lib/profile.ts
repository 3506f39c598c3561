// Cluster profiles (clusters/<name>.yaml): the schema, the loader, and the expansion of node groups
// into concrete members. The cross-profile safety rules live in cluster/profile-rules.ts; a profile
// is only returned when it passes them, so no operation ever starts from an unsafe profile.
import { readdir, readFile, realpath } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { z } from 'zod'
import { ConfigError, NotFoundError, UsageError, type ConfigIssue } from './errors.ts'
import { warn } from './output.ts'
import { parseYamlText } from './config.ts'
import { yamlLocator, type Locate } from './cluster/yaml-source.ts'
import { checkProfile, checkIsolation, type RuleIssue } from './cluster/profile-rules.ts'

const required = (what: string) => (iss: { input?: unknown }) =>
  iss.input === undefined ? 'is required' : `must be ${what} (got ${JSON.stringify(iss.input)})`

const quotedString = (example: string) =>
  z.string({ error: (iss) => (iss.input === undefined ? 'is required' : `must be a quoted string, e.g. "${example}" (got ${JSON.stringify(iss.input)})`) }).min(1)

export const clusterNameSchema = z
  .string({ error: required('a string') })
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be lowercase letters, digits and dashes (it is also the file name)')

const hostnameSchema = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a valid hostname (lowercase letters, digits, dashes)')
const vmidSchema = z.int({ error: required('an integer VMID') }).min(100, 'VMIDs start at 100').max(999_999_999)
const ipv4Schema = z.ipv4({ error: required('an IPv4 address, e.g. 192.0.2.10') })
const cidrSchema = z.cidrv4({ error: required('an IPv4 CIDR, e.g. 10.244.0.0/16') })
// PVE tags are case-insensitive; lowercase keeps AND-matching exact.
const tagSchema = z.string().regex(/^[a-z0-9_][a-z0-9_+.-]*$/, 'must be a PVE tag: lowercase letters, digits, _ + . - (no spaces, ; or ,)')
// What `qm resize` accepts as an absolute size (no leading +: the profile states the final size).
const diskSizeSchema = z
  .string({ error: required('a size such as "32G"') })
  .regex(/^[1-9]\d*(\.\d+)?[KMGT]?$/, 'must be a size such as 32G, 512M or 1T')
// A unicast, locally or globally administered MAC (the multicast bit must be clear).
const macSchema = z
  .string()
  .regex(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/, 'must be a MAC address such as BC:24:11:00:00:01')
  .refine((mac) => (parseInt(mac.slice(0, 2), 16) & 1) === 0, 'must be a unicast MAC (the first octet must be even)')

export const assignmentSchema = z
  .strictObject({
    name: hostnameSchema.describe('VM name and hostname'),
    node: z.string().min(1).optional().describe('Proxmox node to place the VM on (default: chosen by placement)'),
    vmid: vmidSchema.optional().describe('explicit VMID (default: start_vmid + position)'),
    ip: ipv4Schema.optional().describe('static IPv4 address (cloud-init ipconfig0); omit for DHCP'),
    mac: macSchema.optional().describe('static MAC address of net0'),
  })
  .describe('one explicitly assigned VM of the group')

export const nodeGroupSchema = z
  .strictObject({
    count: z.int({ error: required('a whole number') }).min(0).max(500).describe('number of VMs in the group (0 = none)'),
    name_prefix: z
      .string({ error: required('a string') })
      .regex(/^[a-z0-9]([a-z0-9-]{0,58})$/, 'must be lowercase letters, digits and dashes')
      .describe('hostname prefix; VMs are named <prefix>01, <prefix>02, ...'),
    cores: z.int().min(1).max(512).optional().describe('vCPU cores per VM (default: defaults.cores of cluster-config.yaml)'),
    memory: z.int().min(64).max(16 * 1024 * 1024).optional().describe('memory per VM in MiB (default: defaults.memory)'),
    disk: diskSizeSchema.optional().describe('root disk size per VM, e.g. 100G (default: defaults.disk_size)'),
    start_vmid: vmidSchema.optional().describe('first VMID; the next VMs take the following numbers'),
    placement: z.enum(['spread', 'pack']).default('spread').describe('spread: across hypervisors; pack: on the fewest'),
    assignments: z.array(assignmentSchema).default([]).describe('explicit per-VM settings: none, or at least `count` entries (the first `count` are used, the rest are kept for scaling up)'),
  })
  .describe('a group of identical VMs')

export const talosSchema = z
  .strictObject({
    version: quotedString('1.9').describe('Talos release, e.g. "1.9" or "v1.9.5"'),
    kubernetes_version: quotedString('1.32.0').describe('Kubernetes version, e.g. "1.32.0"'),
    config_dir: z.string({ error: required('a directory path') }).min(1).describe('directory for the generated machine configs'),
    secrets_file: z.string().min(1).default('secrets.yaml').describe('secrets bundle, relative to config_dir'),
    factory: z
      .strictObject({
        schematic_id: z.string().regex(/^[0-9a-f]{64}$/, 'must be the 64-character hex schematic id from factory.talos.dev'),
        extensions: z.array(z.string().min(1)).default([]).describe('system extensions baked into the image'),
      })
      .optional()
      .describe('Talos Image Factory schematic'),
    patches_dir: z.string().min(1).optional().describe('config patches, relative to config_dir'),
    vip: z
      .strictObject({
        interface: z.string({ error: required('an interface name') }).min(1).describe('interface carrying the VIP, e.g. eth0'),
        ip: ipv4Schema.describe('virtual IP of the Kubernetes API (shared by the control planes)'),
      })
      .optional(),
  })
  .describe('Talos settings (required when type is talos)')

export const networkSchema = z
  .strictObject({
    api_endpoint: z.string().min(1).optional().describe('Kubernetes API endpoint: the VIP or the first control-plane address'),
    pod_cidr: cidrSchema.optional().describe('pod network, e.g. 10.244.0.0/16'),
    service_cidr: cidrSchema.optional().describe('service network, e.g. 10.96.0.0/12'),
    gateway: ipv4Schema.optional().describe('default gateway of the node network (cloud-init gw)'),
    prefix: z.int().min(8).max(30).optional().describe('prefix length of the node network, e.g. 24'),
    dns: z.array(ipv4Schema).optional().describe('nameservers (default: cloudinit.nameservers of cluster-config.yaml)'),
  })
  .describe('addresses of the nodes and of the Kubernetes networks')

export const fluxSchema = z
  .strictObject({
    repo: z.string({ error: required('a git URL') }).min(1).describe('git repository URL'),
    path: z.string({ error: required('a path') }).min(1).describe('path within the repository; distinct per cluster'),
    branch: z.string().min(1).default('main'),
  })
  .describe('Flux CD bootstrap (type: talos only)')

export const profileSchema = z
  .strictObject({
    name: clusterNameSchema.describe('cluster name; must equal the file name without .yaml'),
    type: z.enum(['talos', 'generic'], { error: required('talos or generic') }).describe('talos: bootstrap Talos + Flux; generic: VMs only'),
    talos: talosSchema.optional(),
    network: networkSchema.default({}),
    nodes: z
      .strictObject({
        controlplane: nodeGroupSchema,
        workers: nodeGroupSchema.optional(),
      })
      .describe('node groups'),
    template: vmidSchema.describe('VMID of the template to clone'),
    tags: z.array(tagSchema).min(1, 'needs at least one tag (one of them unique to this cluster)').describe('tags of every VM; the cluster is the VMs carrying all of them'),
    flux: fluxSchema.optional(),
  })
  .describe('proxmox-manager cluster profile')

export type Profile = z.infer<typeof profileSchema>
export type NodeGroup = z.infer<typeof nodeGroupSchema>
export type Role = 'controlplane' | 'worker'

/** A loaded profile remembers its file, so errors and the journal can name it. */
export type LoadedProfile = Profile & { readonly file: string }

/** The parts of cluster-config.yaml that profiles depend on (structurally a subset of ClusterConfig). */
export interface ProfileConfig {
  cluster: { nodes: { name: string }[] }
  vmid_ranges: { vms: { min: number; max: number }; templates?: { min: number; max: number } }
  defaults?: { cores?: number; memory?: number; disk_size?: string }
  tags?: { managed?: string; templates?: string }
}

export type YamlPath = (string | number)[]

/** One VM of the cluster as the profile describes it (before placement). */
export interface ProfileMember {
  role: Role
  /** 0-based position within its group. */
  index: number
  name: string
  vmid: number | undefined
  node?: string
  ip?: string
  mac?: string
  cores: number
  memory: number
  disk: string
  placement: 'spread' | 'pack'
  /** Where this member's settings live in the YAML, for error locations. */
  at: YamlPath
  /** Whether `at` is an assignment (true) or the group (false, auto-assigned). */
  assigned: boolean
  /** Whether the VMID is written in the assignment (else it is start_vmid + index). */
  vmidAssigned: boolean
}

export const ROLE_TAGS: Record<Role, string> = { controlplane: 'controlplane', worker: 'worker' }
const GROUP_KEY: Record<Role, 'controlplane' | 'workers'> = { controlplane: 'controlplane', worker: 'workers' }

export const groupPath = (role: Role): YamlPath => ['nodes', GROUP_KEY[role]]

/**
 * The concrete VMs of a profile: assignments when given, else `<prefix>NN` with VMIDs from
 * start_vmid. `workers` overrides the worker count (scale); `reserved` also yields the
 * assignments beyond `count` (kept for scaling up).
 */
export function expandMembers(profile: Profile, config?: ProfileConfig, override: { workers?: number; reserved?: boolean } = {}): ProfileMember[] {
  const members: ProfileMember[] = []
  const groups: [Role, NodeGroup | undefined][] = [
    ['controlplane', profile.nodes.controlplane],
    ['worker', profile.nodes.workers],
  ]
  for (const [role, group] of groups) {
    if (!group) continue
    const base = role === 'worker' && override.workers !== undefined ? override.workers : group.count
    const count = override.reserved ? Math.max(base, group.assignments.length) : base
    for (let i = 0; i < count; i++) {
      const a = group.assignments[i]
      members.push({
        role,
        index: i,
        name: a?.name ?? `${group.name_prefix}${String(i + 1).padStart(2, '0')}`,
        vmid: a?.vmid ?? (group.start_vmid !== undefined ? group.start_vmid + i : undefined),
        node: a?.node,
        ip: a?.ip,
        mac: a?.mac?.toUpperCase(),
        cores: group.cores ?? config?.defaults?.cores ?? 2,
        memory: group.memory ?? config?.defaults?.memory ?? 4096,
        disk: group.disk ?? config?.defaults?.disk_size ?? '32G',
        placement: group.placement,
        at: a ? [...groupPath(role), 'assignments', i] : groupPath(role),
        assigned: Boolean(a),
        vmidAssigned: a?.vmid !== undefined,
      })
    }
  }
  return members
}

export interface LoadOptions {
  /** Directory of the profiles (default $PM_CLUSTERS_DIR or ./clusters). */
  dir?: string
  /** Receives warnings (e.g. an even control-plane count); default prints them. */
  onWarning?: (message: string) => void
}

export const clustersDir = (opts: LoadOptions = {}): string => resolve(opts.dir ?? process.env.PM_CLUSTERS_DIR ?? 'clusters')

/** `talos-staging` → clusters/talos-staging.yaml; anything with a slash or .yaml suffix is a path. */
export function resolveProfilePath(nameOrPath: string, opts: LoadOptions = {}): string {
  const value = nameOrPath.trim()
  if (!value) throw new UsageError('PROFILE is empty', 'name a profile from clusters/, e.g. PROFILE=talos-staging (task pve:cluster:list)')
  if (value.includes('/') || /\.ya?ml$/.test(value)) return resolve(value)
  if (!clusterNameSchema.safeParse(value).success) throw new UsageError(`"${value}" is not a profile name (lowercase letters, digits, dashes)`)
  return join(clustersDir(opts), `${value}.yaml`)
}

/** Profile files in a directory (sorted). */
export async function listProfileFiles(dir: string): Promise<string[]> {
  let entries: string[]
  try {
    entries = await readdir(dir)
  } catch (err: any) {
    if (err?.code === 'ENOENT') return []
    throw err
  }
  return entries
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f))
}

interface ParsedProfile {
  locate: Locate
  profile?: Profile
  issues: ConfigIssue[]
}

async function parseProfileFile(file: string): Promise<ParsedProfile> {
  const text = await readFile(file, 'utf8')
  const locate = yamlLocator(text)
  try {
    return { locate, profile: parseYamlText(text, file, profileSchema), issues: [] }
  } catch (err) {
    if (err instanceof ConfigError) return { locate, issues: err.issues }
    throw err
  }
}

function toConfigIssues(issues: RuleIssue[], file: string, locate: Locate): ConfigIssue[] {
  return issues.map((i) => ({ file, ...locate(i.path), path: i.path.join('.'), message: i.message }))
}

export interface ProfileReport {
  file: string
  profile?: LoadedProfile
  errors: ConfigIssue[]
  warnings: ConfigIssue[]
}

async function siblingFiles(file: string, opts: LoadOptions): Promise<string[]> {
  const dirs = new Set([dirname(file), clustersDir(opts)])
  const self = await realpath(file)
  const seen = new Set<string>([self])
  const out: string[] = []
  for (const dir of dirs) {
    for (const f of await listProfileFiles(dir)) {
      const real = await realpath(f)
      if (!seen.has(real)) out.push(f)
      seen.add(real)
    }
  }
  return out
}

/** Validates one profile file completely (schema, own rules, isolation from its siblings). */
export async function checkProfileFile(file: string, config: ProfileConfig, opts: LoadOptions = {}): Promise<ProfileReport> {
  const parsed = await parseProfileFile(file)
  if (!parsed.profile) return { file, errors: parsed.issues, warnings: [] }
  const own = checkProfile(parsed.profile, config, basename(file).replace(/\.ya?ml$/, ''))
  const others: { file: string; profile: Profile }[] = []
  const siblingErrors: RuleIssue[] = []
  for (const other of await siblingFiles(file, opts)) {
    const p = await parseProfileFile(other)
    if (p.profile) others.push({ file: other, profile: p.profile })
    else siblingErrors.push({ path: ['name'], severity: 'error', message: `isolation from ${other} cannot be checked: that profile is invalid (task pve:cluster:validate)` })
  }
  const all = [...own, ...checkIsolation(parsed.profile, others), ...siblingErrors]
  const errors = toConfigIssues(all.filter((i) => i.severity === 'error'), file, parsed.locate)
  const warnings = toConfigIssues(all.filter((i) => i.severity === 'warning'), file, parsed.locate)
  const profile = errors.length ? undefined : Object.assign(parsed.profile, { file })
  return { file, profile, errors, warnings }
}

/** Validates every profile of the clusters directory (or just `only`). */
export async function checkAllProfiles(config: ProfileConfig, opts: LoadOptions = {}, only?: string): Promise<ProfileReport[]> {
  const files = only ? [resolveProfilePath(only, opts)] : await listProfileFiles(clustersDir(opts))
  const reports: ProfileReport[] = []
  for (const file of files) {
    reports.push(
      await checkProfileFile(file, config, opts).catch((err: any) => {
        if (err?.code !== 'ENOENT') throw err
        return { file, errors: [{ file, path: '', message: 'file not found' }], warnings: [] }
      }),
    )
  }
  return reports
}

/**
 * Loads and validates a profile by name (clusters/<name>.yaml) or path. Throws ConfigError
 * (file:line:col) when any rule fails; warnings go to `onWarning`. Makes no API call.
 */
export async function loadProfile(nameOrPath: string, config: ProfileConfig, opts: LoadOptions = {}): Promise<LoadedProfile> {
  const file = resolveProfilePath(nameOrPath, opts)
  const report = await checkProfileFile(file, config, opts).catch(async (err: any) => {
    if (err?.code !== 'ENOENT') throw err
    const known = (await listProfileFiles(dirname(file))).map((f) => basename(f).replace(/\.ya?ml$/, ''))
    throw new NotFoundError(`profile ${file} does not exist`, known.length ? `known profiles: ${known.join(', ')}` : 'create one in clusters/ (see clusters/talos-staging.yaml)')
  })
  if (report.errors.length) throw new ConfigError(report.errors)
  const onWarning = opts.onWarning ?? warn
  for (const w of report.warnings) onWarning(`${w.file}${w.line ? `:${w.line}:${w.col ?? 1}` : ''} ${w.path}: ${w.message}`)
  return report.profile!
}

/** JSON Schema of a profile for editors (yaml-language-server); committed as scripts/lib/schema/profile.schema.json. */
export function profileJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(profileSchema, { io: 'input', target: 'draft-2020-12' }),
    title: 'proxmox-manager cluster profile (clusters/<name>.yaml)',
  }
}

export const PROFILE_JSON_SCHEMA_FILE = 'scripts/lib/schema/profile.schema.json'
