// Named formats of PVE's JSON schema (register_format in pve-common, qemu-server, pve-storage,
// pve-access-control), re-implemented from their documented behaviour. A validator returns the
// error text PVE dies with (ending in "\n"), or undefined when the value is fine. Hash-based named
// formats (property strings such as pve-qm-ipconfig) are listed in `namedPropertyFormats`.
import { bool, en, int, opt, str, type PropertyFormat } from './schema.ts'

const IPV4_OCTET = '(?:25[0-5]|(?:2[0-4]|1[0-9]|[1-9])?[0-9])'
export const IPV4_RE = `(?:${IPV4_OCTET}\\.){3}${IPV4_OCTET}`
const H16 = '[0-9a-fA-F]{1,4}'
const LS32 = `(?:${H16}:${H16}|${IPV4_RE})`
export const IPV6_RE = [
  `(?:(?:${H16}:){6}${LS32})`,
  `(?:::(?:${H16}:){5}${LS32})`,
  `(?:(?:${H16})?::(?:${H16}:){4}${LS32})`,
  `(?:(?:(?:${H16}:){0,1}${H16})?::(?:${H16}:){3}${LS32})`,
  `(?:(?:(?:${H16}:){0,2}${H16})?::(?:${H16}:){2}${LS32})`,
  `(?:(?:(?:${H16}:){0,3}${H16})?::${H16}:${LS32})`,
  `(?:(?:(?:${H16}:){0,4}${H16})?::${LS32})`,
  `(?:(?:(?:${H16}:){0,5}${H16})?::${H16})`,
  `(?:(?:(?:${H16}:){0,6}${H16})?::)`,
].join('|')

const ipv4 = new RegExp(`^${IPV4_RE}$`)
const ipv6 = new RegExp(`^(?:${IPV6_RE})$`)
const cidr4 = new RegExp(`^${IPV4_RE}/(\\d+)$`)
const cidr6 = new RegExp(`^(?:${IPV6_RE})/(\\d+)$`)
const isCidr4 = (v: string) => { const m = cidr4.exec(v); return !!m && +m[1] > 7 && +m[1] <= 32 }
const isCidr6 = (v: string) => { const m = cidr6.exec(v); return !!m && +m[1] > 7 && +m[1] <= 128 }

export const CONFIGID_RE = /^[a-z][a-z0-9_-]+$/i
export const STORAGE_ID_RE = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i
export const NODE_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/
export const TAG_RE = /^[a-z0-9_][a-z0-9_\-+.]*$/i
export const VOLID_RE = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/i
const DNS_LABEL = '[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?'
const DNS_RE = new RegExp(`^(${DNS_LABEL}\\.)*${DNS_LABEL}$`)
export const USERID_RE = /^([^\s:/]+)@([A-Za-z][A-Za-z0-9.\-_]+)$/
export const TOKEN_NAME_RE = /^[A-Za-z][A-Za-z0-9.\-_]+$/

type Validator = (value: string) => string | undefined
const check = (ok: boolean, msg: string) => (ok ? undefined : `${msg}\n`)

const volumeId: Validator = (v) => check(VOLID_RE.test(v), `unable to parse volume ID '${v}'`)
const userId: Validator = (v) => {
  if (v.length < 3) return `user name '${v}' is too short\n`
  if (v.length > 64) return `user name '${v}' is too long (${v.length} > 64)\n`
  return check(USERID_RE.test(v), `value '${v}' does not look like a valid user name`)
}

export const validators: Record<string, Validator> = {
  'string': () => undefined,
  'pve-vmid': (v) => check(/^[1-9][0-9]{2,8}$/.test(v), 'value does not look like a valid VM ID'),
  'pve-node': (v) => check(NODE_RE.test(v), 'value does not look like a valid node name'),
  'dns-name': (v) => check(DNS_RE.test(v), 'value does not look like a valid DNS name'),
  'pve-configid': (v) => check(CONFIGID_RE.test(v), `invalid configuration ID '${v}'`),
  'pve-storage-id': (v) => check(STORAGE_ID_RE.test(v), v.length < 2 ? `storage ID '${v}' cannot be shorter than 2 characters` : `storage ID '${v}' contains illegal characters`),
  'pve-bridge-id': (v) => check(/^[-_.\w\d]+$/.test(v), `invalid bridge ID '${v}'`),
  'pve-tag': (v) => check(TAG_RE.test(v), 'invalid characters in tag'),
  'mac-addr': (v) => check(/^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$/i.test(v), 'value does not look like a valid unicast MAC address'),
  'ipv4': (v) => check(ipv4.test(v), 'value does not look like a valid IPv4 address'),
  'ipv6': (v) => check(ipv6.test(v), 'value does not look like a valid IPv6 address'),
  'ip': (v) => check(ipv4.test(v) || ipv6.test(v), 'value does not look like a valid IP address'),
  'address': (v) => check(ipv4.test(v) || ipv6.test(v), 'value does not look like a valid IP address'),
  'CIDRv4': (v) => check(isCidr4(v), 'value does not look like a valid IPv4 CIDR network'),
  'CIDRv6': (v) => check(isCidr6(v), 'value does not look like a valid IPv6 CIDR network'),
  'CIDR': (v) => check(isCidr4(v) || isCidr6(v), 'value does not look like a valid CIDR network'),
  'pve-ipv4-config': (v) => check(/^(?:dhcp|manual)$/.test(v) || isCidr4(v), 'value does not look like a valid ipv4 network configuration'),
  'pve-ipv6-config': (v) => check(/^(?:auto|dhcp|manual)$/.test(v) || isCidr6(v), 'value does not look like a valid ipv6 network configuration'),
  'urlencoded': (v) => check(/^[-%a-zA-Z0-9_.!~*'()]*$/.test(v), `invalid urlencoded string: ${v}`),
  'disk-size': (v) => check(/^\d+(\.\d+)?[KMGT]?$/.test(v), `unable to parse size '${v}'`),
  'pve-volume-id': volumeId,
  'pve-volume-id-or-qm-path': (v) => (v === 'none' || v === 'cdrom' || v.startsWith('/dev/') ? undefined : volumeId(v)),
  'pve-volume-id-or-absolute-path': (v) => (v.startsWith('/') ? undefined : volumeId(v)),
  'pve-poolid': (v) => check(/^[A-Za-z0-9.\-_]+(?:\/[A-Za-z0-9.\-_]+){0,2}$/.test(v), `pool name '${v}' contains illegal characters`),
  'pve-userid': userId,
  'pve-realm': (v) => check(/^[A-Za-z][A-Za-z0-9.\-_]+$/.test(v), `realm '${v}' contains illegal characters`),
  'pve-roleid': (v) => check(/^[A-Za-z0-9.\-_]+$/.test(v), `role name '${v}' contains illegal characters`),
  'pve-groupid': (v) => check(/^[A-Za-z0-9.\-_]+$/.test(v), `group name '${v}' contains illegal characters`),
  'pve-tokenid': (v) => { const [u, t, ...rest] = v.split('!'); return check(!rest.length && USERID_RE.test(u) && TOKEN_NAME_RE.test(t ?? ''), `invalid token ID '${v}'`) },
  'pve-priv': (v) => check(/^[A-Za-z.]+$/.test(v), `invalid privilege '${v}'`),
  'pve-task-status-type': (v) => check(['ok', 'error', 'warning', 'unknown'].includes(v), `invalid task status type '${v}'`),
  'pve-storage-content': (v) => check(['images', 'rootdir', 'vztmpl', 'iso', 'backup', 'snippets', 'import'].includes(v), `invalid content type '${v}'`),
  'pve-ha-resource-or-vm-id': (v) => check(/^(?:(?:vm|ct):)?[1-9][0-9]{2,8}$/.test(v), `unable to parse HA resource id '${v}'`),
  'storage-pair': (v) => {
    const bad = v.split(':').find((id) => id !== '1' && !STORAGE_ID_RE.test(id))
    return bad === undefined ? undefined : `entry '${v}' contains invalid ID - storage ID '${bad}' contains illegal characters\n`
  },
  'pve-hotplug-features': (v) => check(/^(?:0|1|(?:network|disk|cpu|memory|usb|cloudinit)(?:,(?:network|disk|cpu|memory|usb|cloudinit))*)$/.test(v), `invalid hotplug feature '${v}'`),
  'email-opt': () => undefined,
}

const ipconfig: PropertyFormat = {
  ip: opt(str({ format: 'pve-ipv4-config' })),
  gw: opt(str({ format: 'ipv4', requires: 'ip' })),
  ip6: opt(str({ format: 'pve-ipv6-config' })),
  gw6: opt(str({ format: 'ipv6', requires: 'ip6' })),
}

/** Hash-based named formats: validated as property strings. */
export const namedPropertyFormats: Record<string, PropertyFormat> = {
  'pve-qm-ipconfig': ipconfig,
  'pve-startup-order': {
    order: opt(int({ minimum: 0, default_key: 1 })),
    up: opt(int({ minimum: 0 })),
    down: opt(int({ minimum: 0 })),
  },
  'pve-qm-boot': {
    legacy: opt(str({ pattern: '[acdn]{1,4}', default_key: 1 })),
    order: opt(str()),
  },
  'pve-vm-cpu-conf': {
    cputype: opt(str({ default_key: 1 })),
    flags: opt(str()),
    hidden: opt(bool()),
    'hv-vendor-id': opt(str()),
    'phys-bits': opt(str()),
    'reported-model': opt(str()),
  },
  'pve-qm-smbios1': {
    uuid: opt(str()), base64: opt(bool()), family: opt(str()), manufacturer: opt(str()),
    product: opt(str()), serial: opt(str()), sku: opt(str()), version: opt(str()),
  },
  'pve-qm-cicustom': {
    meta: opt(str({ format: 'pve-volume-id' })), network: opt(str({ format: 'pve-volume-id' })),
    user: opt(str({ format: 'pve-volume-id' })), vendor: opt(str({ format: 'pve-volume-id' })),
  },
  'pve-qm-watchdog': { model: opt(en(['i6300esb', 'ib700'], { default_key: 1 })), action: opt(en(['reset', 'shutdown', 'poweroff', 'pause', 'debug', 'none'])) },
  'pve-qm-rng': { source: en(['/dev/urandom', '/dev/random', '/dev/hwrng'], { default_key: 1 }), max_bytes: opt(int()), period: opt(int()) },
  'prune-backups': {
    'keep-all': opt(bool()), 'keep-last': opt(int({ minimum: 1 })), 'keep-hourly': opt(int({ minimum: 1 })),
    'keep-daily': opt(int({ minimum: 1 })), 'keep-weekly': opt(int({ minimum: 1 })),
    'keep-monthly': opt(int({ minimum: 1 })), 'keep-yearly': opt(int({ minimum: 1 })),
  },
}

/** PVE::Tools::split_list: separators are `,` `;` and whitespace (or NUL when present). */
export function splitList(text: string): string[] {
  if (text.includes('\0')) return text.split('\0')
  return text.replace(/[,;]/g, ' ').trim().split(/\s+/).filter(Boolean)
}
