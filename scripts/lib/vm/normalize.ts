// PVE's normal forms for the config keys we write, so that comparing "what the user wants" with
// "what PVE stores" never reports a change that is only spelling (sorted tags, URL-encoded
// sshkeys, a net string without its MAC...). Sources: pve-api-behaviour.md §5.3.
import { UsageError } from '../errors.ts'

export const TAG_RE = /^[a-z0-9_][a-z0-9_\-+.]*$/i

/** Splits a tag list the way PVE does: on `;`, `,` and whitespace. */
export function splitTags(input: string | string[] | undefined): string[] {
  const parts = Array.isArray(input) ? input : [input ?? '']
  return parts.flatMap((p) => p.split(/[;,\s]+/)).filter(Boolean)
}

/**
 * PVE's stored form of a tag list (default datacenter tag-style): lower-cased, de-duplicated,
 * sorted, joined with `;`. Example: `Web,db;Web` → `db;web`. Throws on a tag PVE would reject.
 */
export function normalizeTags(input: string | string[] | undefined): string {
  const tags = splitTags(input)
  for (const t of tags) if (!TAG_RE.test(t)) throw new UsageError(`invalid tag '${t}': PVE tags match ${TAG_RE.source} (letters, digits, _ - + .)`)
  return [...new Set(tags.map((t) => t.toLowerCase()))].sort().join(';')
}

/** The key lines of an authorized_keys text: trimmed, no blanks, no comments. */
export function sshKeyLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
}

/** Decodes PVE's stored (URL-encoded) sshkeys value; tolerates `+` for spaces from form encoders. */
export function decodeSshKeys(stored: string | undefined): string {
  if (!stored) return ''
  try {
    return decodeURIComponent(stored)
  } catch {
    return stored
  }
}

/**
 * Encodes keys the way PVE's `urlencoded` format accepts them: only `[%a-zA-Z0-9-_.!~*'()]`
 * may remain, which is exactly what encodeURIComponent leaves. One key per line, trailing newline
 * (as the GUI and `jq -sRr @uri < authorized_keys` produce).
 */
export function encodeSshKeys(keys: string): string {
  const lines = sshKeyLines(keys)
  return lines.length ? encodeURIComponent(lines.join('\n') + '\n') : ''
}

export const sameSshKeys = (stored: string | undefined, wanted: string): boolean =>
  sshKeyLines(decodeSshKeys(stored)).join('\n') === sshKeyLines(wanted).join('\n')

/** A parsed property string (`a=1,b=2` or `model=MAC,...`), keys in input order. */
export function parsePropertyString(text: string): Map<string, string> {
  const map = new Map<string, string>()
  for (const part of text.split(',')) {
    if (!part) continue
    const eq = part.indexOf('=')
    if (eq < 0) map.set(part, '')
    else map.set(part.slice(0, eq), part.slice(eq + 1))
  }
  return map
}

export const NET_MODELS = [
  'virtio', 'e1000', 'e1000-82540em', 'e1000-82544gc', 'e1000-82545em', 'e1000e', 'i82551', 'i82557b', 'i82559er',
  'ne2k_isa', 'ne2k_pci', 'pcnet', 'rtl8139', 'vmxnet3',
] as const
const NET_BOOLEANS = new Set(['firewall', 'link_down'])
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i

export interface NetDevice {
  model: string
  macaddr?: string
  /** Every other option (bridge, tag, firewall...), booleans as `0`/`1`. */
  options: Record<string, string>
}

function pveBoolean(key: string, v: string): string {
  if (/^(1|true|yes|on)$/i.test(v)) return '1'
  if (/^(0|false|no|off)$/i.test(v)) return '0'
  throw new UsageError(`net option ${key}=${v}: expected a boolean (0/1)`)
}

/** Parses `virtio=BC:24:11:..,bridge=vmbr0,firewall=1` (or `model=virtio,macaddr=...`). */
export function parseNet(text: string): NetDevice {
  let model: string | undefined
  let macaddr: string | undefined
  const options: Record<string, string> = {}
  for (const [k, v] of parsePropertyString(text)) {
    if ((NET_MODELS as readonly string[]).includes(k)) {
      model = k
      if (v) macaddr = v
    } else if (k === 'model') model = v
    else if (k === 'macaddr') macaddr = v
    else options[k] = NET_BOOLEANS.has(k) ? pveBoolean(k, v) : v
  }
  if (!model) throw new UsageError(`net device '${text}': no model (e.g. virtio,bridge=vmbr0)`)
  if (macaddr !== undefined && !MAC_RE.test(macaddr)) throw new UsageError(`net device '${text}': invalid MAC address '${macaddr}'`)
  return { model, macaddr: macaddr?.toUpperCase(), options }
}

/** PVE's printed form: `model=MAC` first, then the other keys sorted. */
export function formatNet(dev: NetDevice): string {
  const head = dev.macaddr ? `${dev.model}=${dev.macaddr}` : dev.model
  const rest = Object.keys(dev.options)
    .sort()
    .map((k) => `${k}=${dev.options[k]}`)
  return [head, ...rest].join(',')
}

/**
 * The net string to send so that PVE keeps the existing MAC: a wanted device without a MAC
 * inherits the current one (PVE would otherwise generate a new address on every change).
 */
export function mergeNet(current: string | undefined, wanted: string): string {
  const w = parseNet(wanted)
  if (!w.macaddr && current) {
    const c = parseNet(current)
    w.macaddr = c.macaddr
  }
  return formatNet(w)
}

export function sameNet(a: string | undefined, b: string): boolean {
  if (a === undefined) return false
  const x = parseNet(a)
  const y = parseNet(b)
  if (x.model !== y.model || (y.macaddr && x.macaddr !== y.macaddr)) return false
  const keys = new Set([...Object.keys(x.options), ...Object.keys(y.options)])
  return [...keys].every((k) => x.options[k] === y.options[k])
}

export interface IpConfig {
  ip?: string
  gw?: string
  ip6?: string
  gw6?: string
}

const IPCONFIG_KEYS = ['ip', 'gw', 'ip6', 'gw6'] as const

export function parseIpConfig(text: string | undefined): IpConfig {
  const out: IpConfig = {}
  if (!text) return out
  for (const [k, v] of parsePropertyString(text)) {
    if (!(IPCONFIG_KEYS as readonly string[]).includes(k)) throw new UsageError(`ipconfig '${text}': unknown key '${k}'`)
    out[k as keyof IpConfig] = v
  }
  return out
}

export function formatIpConfig(c: IpConfig): string {
  return IPCONFIG_KEYS.filter((k) => c[k] !== undefined && c[k] !== '')
    .map((k) => `${k}=${c[k]}`)
    .join(',')
}

const IPV4_CIDR = /^(\d{1,3})(\.\d{1,3}){3}\/\d{1,2}$/
const IPV4 = /^(\d{1,3})(\.\d{1,3}){3}$/

/**
 * The ipconfig string for `IP=` / `GW=` on top of the current one: given fields replace,
 * others stay; `ip=dhcp` drops a gateway nobody asked for (PVE: "no explicit gateway").
 */
export function mergeIpConfig(current: string | undefined, change: { ip?: string; gw?: string }): string {
  const c = parseIpConfig(current)
  if (change.ip !== undefined) {
    if (!['dhcp', 'manual'].includes(change.ip) && !IPV4_CIDR.test(change.ip)) {
      throw new UsageError(`IP '${change.ip}': expected IPv4/CIDR (e.g. 192.0.2.10/24), dhcp or manual`)
    }
    c.ip = change.ip
    if (change.ip === 'dhcp' && change.gw === undefined) delete c.gw
  }
  if (change.gw !== undefined) {
    if (change.gw !== '' && !IPV4.test(change.gw)) throw new UsageError(`GW '${change.gw}': expected an IPv4 address`)
    if (change.gw === '') delete c.gw
    else c.gw = change.gw
  }
  if (c.gw && !c.ip) throw new UsageError('GW needs an IP (PVE: gw requires ip)')
  return formatIpConfig(c)
}

export function sameIpConfig(a: string | undefined, b: string): boolean {
  const x = parseIpConfig(a)
  const y = parseIpConfig(b)
  return IPCONFIG_KEYS.every((k) => (x[k] ?? '') === (y[k] ?? ''))
}

/** `memory` is a property string since PVE 8.1 (`"2048"` or `"current=2048"`). */
export function memoryMiB(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined
  const m = /^(?:current=)?(\d+)/.exec(String(value))
  return m ? Number(m[1]) : undefined
}
