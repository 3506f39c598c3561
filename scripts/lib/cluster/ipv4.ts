// IPv4 arithmetic for profile validation: addresses as unsigned 32-bit numbers, networks as
// inclusive [first, last] ranges. Inputs are already format-checked by the zod schema.

export interface Ipv4Range {
  first: number
  last: number
  text: string
}

export function ipToNumber(ip: string): number {
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0)
}

export function rangeOf(network: string, prefix: number): Ipv4Range {
  const size = 2 ** (32 - prefix)
  const first = Math.floor(ipToNumber(network) / size) * size
  return { first, last: first + size - 1, text: `${numberToIp(first)}/${prefix}` }
}

/** "10.244.0.0/16" → its range. */
export function parseCidr(cidr: string): Ipv4Range {
  const [ip, prefix] = cidr.split('/')
  return rangeOf(ip, Number(prefix))
}

export function numberToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.')
}

export const overlaps = (a: Ipv4Range, b: Ipv4Range): boolean => a.first <= b.last && b.first <= a.last

export const contains = (r: Ipv4Range, ip: string): boolean => {
  const n = ipToNumber(ip)
  return n >= r.first && n <= r.last
}

export const isIpv4 = (s: string): boolean =>
  /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(s)
