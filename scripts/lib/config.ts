// cluster-config.yaml: the zod schema (strict: unknown keys are errors), and the one YAML loader
// every input file goes through, so each problem is reported as `file:line:col path: message`.
import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, isAbsolute, resolve } from 'node:path'
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml'
import { z } from 'zod'
import { ConfigError, type ConfigIssue } from './errors.ts'

// PVE's own formats: node names are DNS labels, tags are pve-tag, VMIDs 100..999999999.
const NODE_NAME = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/
const PVE_TAG = /^[a-z0-9_][a-z0-9_\-+.]*$/i
const SHA256_FINGERPRINT = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/
const SIZE = /^\d+(\.\d+)?[KMGT]?$/
const VMID_MIN = 100
const VMID_MAX = 999_999_999

/** Accepts `AA:BB:…` in any case, or 64 bare hex digits; normalises to upper-case colon form. */
export function normalizeFingerprint(value: string): string {
  const hex = value.replace(/:/g, '').toUpperCase()
  return /^[0-9A-F]{64}$/.test(hex) ? hex.match(/../g)!.join(':') : value
}

const fingerprintSchema = z
  .string()
  .transform(normalizeFingerprint)
  .pipe(z.string().regex(SHA256_FINGERPRINT, 'must be a SHA-256 fingerprint: 32 hex bytes separated by colons (pvenode cert info)'))

const vmidRange = z
  .strictObject({
    min: z.number().int().min(VMID_MIN).max(VMID_MAX),
    max: z.number().int().min(VMID_MIN).max(VMID_MAX),
  })
  .refine((r) => r.min <= r.max, { message: 'min must not be greater than max', path: ['max'] })

const nodeSchema = z.strictObject({
  name: z.string().regex(NODE_NAME, 'must be a PVE node name (letters, digits, inner hyphens)').describe('PVE node name, as in `pvecm nodes`'),
  host: z.string().min(1).describe('host name or address of the node API'),
  port: z.number().int().min(1).max(65535).default(8006).describe('API port'),
})

const tlsSchema = z
  .strictObject({
    ca_file: z.string().min(1).optional().describe("PEM file of the cluster CA (a node's /etc/pve/pve-root-ca.pem)"),
    fingerprint: z
      .union([fingerprintSchema, z.array(fingerprintSchema).min(1)])
      .optional()
      .describe('SHA-256 fingerprint(s) of the nodes’ API certificates (pvenode cert info); one per node'),
    insecure: z.literal(true, 'insecure can only be `true` (remove the key to verify certificates)').optional().describe('skip verification (loud warning; never in production)'),
  })
  .superRefine((tls, ctx) => {
    const chosen = (['ca_file', 'fingerprint', 'insecure'] as const).filter((k) => tls[k] !== undefined)
    if (chosen.length !== 1)
      ctx.addIssue({
        code: 'custom',
        message: chosen.length ? `set exactly one of ca_file, fingerprint, insecure (found ${chosen.join(' and ')})` : 'set one of ca_file, fingerprint, insecure',
      })
  })
  .describe('how the API certificate is verified: exactly one of ca_file, fingerprint, insecure')

const defaultsSchema = z.strictObject({
  storage: z.string().min(1).default('local-lvm').describe('storage for new disks'),
  bios: z.enum(['seabios', 'ovmf']).default('ovmf'),
  machine: z.string().regex(/^(pc|q35)(-[\w.+-]+)?$/, 'must be pc or q35 (optionally versioned, e.g. pc-q35-9.0)').default('q35'),
  cpu: z.string().min(1).default('host'),
  scsihw: z.enum(['lsi', 'lsi53c810', 'virtio-scsi-pci', 'virtio-scsi-single', 'megasas', 'pvscsi']).default('virtio-scsi-pci'),
  network_bridge: z.string().min(1).default('vmbr0'),
  guest_agent: z.boolean().default(true),
  ostype: z.enum(['other', 'wxp', 'w2k', 'w2k3', 'w2k8', 'wvista', 'win7', 'win8', 'win10', 'win11', 'l24', 'l26', 'solaris']).default('l26'),
  cores: z.number().int().min(1).max(1024).default(2),
  memory: z.number().int().min(16).describe('MiB').default(4096),
  disk_size: z.string().regex(SIZE, 'must be a size such as 32G').default('32G'),
})

const tagSchema = z.string().regex(PVE_TAG, 'must be a valid PVE tag (letters, digits, _ - + .)')

const configSchema = z
  .strictObject({
    cluster: z.strictObject({
      name: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'must be a name (letters, digits, _ . -)').describe('cluster name (typed to confirm destructive cluster-wide operations)'),
      nodes: z.array(nodeSchema).min(1, 'list at least one node').describe('API endpoints, tried in this order'),
    }),
    credentials: z
      .strictObject({
        pass_path: z.string().min(1).optional().describe('`pass` entry: line 1 token id (user@realm!name), line 2 secret'),
        ssh_user: z.string().min(1).default('root').describe('SSH user for the few operations the API cannot do'),
      })
      .prefault({}),
    tls: tlsSchema,
    defaults: defaultsSchema.prefault({}),
    vmid_ranges: z
      .strictObject({
        templates: vmidRange.default({ min: 100, max: 999 }),
        vms: vmidRange.default({ min: 1000, max: 9999 }),
      })
      .prefault({})
      .refine((r) => r.templates.max < r.vms.min || r.vms.max < r.templates.min, { message: 'templates and vms ranges must not overlap', path: ['vms'] }),
    tags: z
      .strictObject({
        templates: tagSchema.default('template').describe('tag carried by templates the tool creates'),
        managed: tagSchema.default('pm-managed').describe('ownership tag carried by every VM the tool creates'),
      })
      .prefault({}),
    cloudinit: z
      .strictObject({
        default_user: z.string().min(1).optional(),
        ssh_keys_file: z.string().min(1).optional().describe('public keys file (~ is expanded)'),
        nameservers: z.array(z.union([z.ipv4(), z.ipv6()])).optional(),
        search_domain: z.string().min(1).optional(),
      })
      .prefault({}),
    limits: z
      .strictObject({
        per_node: z.number().int().min(1).max(64).default(4).describe('parallel operations per node'),
        per_storage: z.number().int().min(1).max(64).default(2).describe('parallel disk operations per storage'),
      })
      .prefault({}),
    ansible: z
      .strictObject({
        roles: z.array(z.string().regex(/^[a-z0-9_]+(#[a-z0-9_]+)?$/, 'must be a role name, optionally role#taskfile')).default([]),
      })
      .prefault({}),
    tools: z
      .strictObject({
        talosctl: z.string().min(1).optional(),
        flux: z.string().min(1).optional(),
        kubectl: z.string().min(1).optional(),
      })
      .prefault({})
      .describe('binaries to run (default: found on PATH); ~ and relative paths are resolved'),
    sandbox: z.boolean().default(false).describe('the cluster is the simulator: network steps go to simulated nodes'),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, number>()
    cfg.cluster.nodes.forEach((n, i) => {
      if (seen.has(n.name)) ctx.addIssue({ code: 'custom', message: `duplicate node name '${n.name}' (also at index ${seen.get(n.name)})`, path: ['cluster', 'nodes', i, 'name'] })
      seen.set(n.name, i)
    })
  })

export const ClusterConfigSchema = configSchema
export type ClusterConfig = z.output<typeof configSchema> & { /** absolute path of the file it came from */ file: string }
export type ClusterNode = ClusterConfig['cluster']['nodes'][number]
export type TlsConfig = ClusterConfig['tls']

/** One line for humans: how the API certificate is verified. */
export function describeTls(tls: TlsConfig): string {
  if (tls.ca_file) return `CA file ${tls.ca_file}`
  if (tls.fingerprint) return `pinned fingerprint${Array.isArray(tls.fingerprint) && tls.fingerprint.length > 1 ? `s (${tls.fingerprint.length})` : ''}`
  return 'INSECURE (no verification)'
}

/** `~` → home directory; relative paths are relative to the file that names them. */
export function expandPath(path: string, baseDir: string): string {
  const home = path === '~' || path.startsWith('~/') ? homedir() + path.slice(1) : path
  return isAbsolute(home) ? home : resolve(baseDir, home)
}

/** Binaries: a bare name stays a PATH lookup; anything with a slash or `~` is a path. */
function expandTool(path: string | undefined, baseDir: string): string | undefined {
  if (path === undefined || (!path.includes('/') && !path.startsWith('~'))) return path
  return expandPath(path, baseDir)
}

/** Reads a YAML file and validates it; every problem (syntax or schema) comes back with line:col. */
export async function loadYamlFile<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    const why = err?.code === 'ENOENT' ? 'file not found' : err?.code === 'EACCES' ? 'permission denied' : String(err?.message ?? err)
    throw new ConfigError([{ file: path, path: '', message: why }])
  }
  return parseYamlText(text, path, schema)
}

export function parseYamlText<S extends z.ZodType>(text: string, file: string, schema: S): z.output<S> {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  if (doc.errors.length) {
    throw new ConfigError(
      doc.errors.map((e) => ({
        file,
        ...lineCounter.linePos(e.pos[0]),
        path: '',
        message: `YAML syntax: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
    )
  }
  const parsed = schema.safeParse(doc.toJS({ maxAliasCount: 100 }))
  if (parsed.success) return parsed.data
  throw new ConfigError(parsed.error.issues.flatMap((issue) => issueToConfigIssues(issue, doc, lineCounter, file, schema)))
}

function issueToConfigIssues(issue: z.core.$ZodIssue, doc: Document, lc: LineCounter, file: string, schema: z.ZodType): ConfigIssue[] {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? p.toString() : p))
  if (issue.code === 'unrecognized_keys') {
    const parent = doc.getIn(path, true) as Node | undefined
    return issue.keys.map((key) => {
      const keyNode = isMap(parent) ? parent.items.find((it) => isPair(it) && isScalar(it.key) && it.key.value === key)?.key : undefined
      const suggestion = closest(key, schemaKeysAt(schema, issue.path))
      return {
        file,
        ...position(keyNode as Node | undefined, lc),
        path: [...path, key].join('.'),
        message: `unknown key${suggestion ? ` (did you mean '${suggestion}'?)` : ''}`,
      }
    })
  }
  // A missing key has no node: point at the nearest ancestor that exists.
  let node: unknown
  for (let n = path.length; n >= 0 && !node; n--) node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true)
  return [{ file, ...position(node as Node | undefined, lc), path: path.join('.'), message: humanMessage(issue, doc) }]
}

function position(node: Node | undefined, lc: LineCounter): { line?: number; col?: number } {
  const offset = node && (isMap(node) || isSeq(node) || isScalar(node)) ? node.range?.[0] : undefined
  if (offset === undefined) return {}
  const { line, col } = lc.linePos(offset)
  return { line, col }
}

function humanMessage(issue: z.core.$ZodIssue, doc: Document): string {
  if (issue.code !== 'invalid_type') return issue.message
  if (!issue.path.length && doc.contents === null) return 'the file is empty (expected a mapping)'
  if (issue.path.length && !doc.hasIn(issue.path)) return `required (${issue.expected})`
  return issue.message
}

/** Closest candidate by edit distance, if it is plausibly a typo. */
function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1
  for (const c of candidates) {
    const d = editDistance(word, c)
    if (d < bestDistance) [best, bestDistance] = [c, d]
  }
  return best
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return row[b.length]
}

/** Keys the schema allows at a given path, for "did you mean" hints (zod's issue does not list them). */
export function schemaKeysAt(schema: z.ZodType, path: PropertyKey[]): string[] {
  let cur: any = schema
  const unwrap = () => {
    while (cur?.def && ['optional', 'default', 'prefault', 'nullable', 'pipe'].includes(cur.def.type)) cur = cur.def.type === 'pipe' ? cur.def.in : cur.def.innerType
  }
  unwrap()
  for (const seg of path) {
    if (cur?.def?.type === 'object') cur = cur.def.shape[seg as string]
    else if (cur?.def?.type === 'array') cur = cur.def.element
    else return []
    unwrap()
  }
  return cur?.def?.type === 'object' ? Object.keys(cur.def.shape) : []
}

/** Loads and validates cluster-config.yaml; paths in it are resolved (`~`, relative to the file). */
export async function loadClusterConfig(path: string): Promise<ClusterConfig> {
  const file = resolve(path)
  const cfg = await loadYamlFile(file, configSchema)
  const base = dirname(file)
  const tls = { ...cfg.tls, ...(cfg.tls.ca_file ? { ca_file: expandPath(cfg.tls.ca_file, base) } : {}) }
  const cloudinit = { ...cfg.cloudinit, ...(cfg.cloudinit.ssh_keys_file ? { ssh_keys_file: expandPath(cfg.cloudinit.ssh_keys_file, base) } : {}) }
  const tools = { talosctl: expandTool(cfg.tools.talosctl, base), flux: expandTool(cfg.tools.flux, base), kubectl: expandTool(cfg.tools.kubectl, base) }
  return { ...cfg, tls, cloudinit, tools, file }
}
