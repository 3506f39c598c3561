// Finding Talos machines on a subnet and telling which VM each one is. Every address of the given
// subnet (and only those) gets one TCP connect to the Talos API port; where it opens, the machine's
// links are read over the maintenance API (`talosctl get links --insecure`) and its MACs matched to
// the netN MACs of the VMs' PVE configs; a machine whose MAC matches no VM can still be matched by
// the address a VM's guest agent reports. Large subnets need an explicit flag; in the sandbox only
// loopback (127.0.0.0/8) may be scanned.
import { RefusedError, UsageError } from '../errors.ts'
import { isIpv4, ipToNumber, numberToIp, parseCidr, rangeOf, type Ipv4Range } from '../cluster/ipv4.ts'
import type { PveClient } from '../pve/client.ts'
import { apiPath } from '../pve/client.ts'
import { listVms } from '../pve/resources.ts'
import { parseNet } from '../vm/normalize.ts'
import type { TalosNode } from './configs.ts'
import { TALOS_API_PORT, tcpPortOpen } from './bootstrap.ts'
import { parseJsonStream, type Talosctl } from './talosctl.ts'

/** Up to this many addresses (a /22) are scanned without --allow-large; beyond a /16 never. */
export const LARGE_SUBNET_HOSTS = 1024
export const MAX_SUBNET_PREFIX = 16

export interface ScanOptions {
  port?: number
  allowLarge?: boolean
  /** The sandbox simulates nodes on loopback: anything else is refused. */
  sandbox: boolean
  concurrency?: number
  connectTimeoutMs?: number
}

/** The host addresses of a CIDR (network and broadcast excluded below /31), checked against the limits. */
export function subnetHosts(cidr: string, opts: Pick<ScanOptions, 'allowLarge' | 'sandbox'>): string[] {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr.trim())
  if (!m || !isIpv4(m[1]) || Number(m[2]) > 32) throw new UsageError(`"${cidr}" is not an IPv4 subnet such as 192.168.1.0/24`)
  const prefix = Number(m[2])
  const range = parseCidr(`${m[1]}/${prefix}`)
  if (opts.sandbox && !(range.first >= ipToNumber('127.0.0.0') && range.last <= ipToNumber('127.255.255.255'))) {
    throw new RefusedError(`the sandbox simulates Talos nodes on loopback only: ${range.text} is outside 127.0.0.0/8 and would reach real hosts`)
  }
  if (prefix < MAX_SUBNET_PREFIX) throw new RefusedError(`${range.text} has ${2 ** (32 - prefix)} addresses: subnets larger than a /${MAX_SUBNET_PREFIX} are never scanned`, 'give the node subnet, e.g. a /24')
  const size = range.last - range.first + 1
  if (size > LARGE_SUBNET_HOSTS && !opts.allowLarge) {
    throw new RefusedError(`${range.text} has ${size} addresses (more than ${LARGE_SUBNET_HOSTS})`, 'scan a smaller subnet, or pass --allow-large')
  }
  const hosts: string[] = []
  const [first, last] = prefix >= 31 ? [range.first, range.last] : [range.first + 1, range.last - 1]
  for (let n = first; n <= last; n++) hosts.push(numberToIp(n))
  return hosts
}

/** Addresses whose port accepts a connection, in address order. */
export async function scanPort(hosts: string[], port: number, opts: { concurrency?: number; connectTimeoutMs?: number } = {}): Promise<string[]> {
  const open = new Set<string>()
  let next = 0
  const worker = async () => {
    while (next < hosts.length) {
      const ip = hosts[next++]
      if (await tcpPortOpen(ip, port, opts.connectTimeoutMs ?? 1_000)) open.add(ip)
    }
  }
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 64, hosts.length) }, worker))
  return hosts.filter((h) => open.has(h))
}

export type MachineState = 'maintenance' | 'configured' | 'unknown'

export interface FoundMachine {
  ip: string
  state: MachineState
  macs: string[]
}

/** A machine's links over the maintenance API, else (a configured node) over the secure one. */
export async function inspectMachine(talosctl: Talosctl, ip: string, secure?: Talosctl): Promise<FoundMachine> {
  const links = async (t: Talosctl, insecure: boolean) => {
    const r = await t.run(['get', 'links', '--output', 'json'], { nodes: [ip], insecure, nothrow: true, timeoutMs: 20_000 })
    if (!r.ok) return undefined
    return parseJsonStream<{ spec?: { hardwareAddr?: string; type?: string } }>(r.stdout)
      .filter((l) => l.spec?.type !== 'loopback' && l.spec?.hardwareAddr && !/^(00:){5}00$/.test(l.spec.hardwareAddr))
      .map((l) => l.spec!.hardwareAddr!.toUpperCase())
  }
  const maintenance = await links(talosctl, true)
  if (maintenance) return { ip, state: 'maintenance', macs: maintenance }
  const configured = secure ? await links(secure, false) : undefined
  return configured ? { ip, state: 'configured', macs: configured } : { ip, state: 'unknown', macs: [] }
}

export interface VmNics {
  vmid: number
  name: string
  node: string
  macs: string[]
  /** Addresses the guest agent reports (running VMs with the agent enabled; empty when it does not answer). */
  agentIps: string[]
}

/** The netN MACs of VMs (all non-templates, or those with the given VMIDs) and their guest-agent addresses. */
export async function vmNics(client: PveClient, vmids?: Set<number>): Promise<VmNics[]> {
  const vms = (await listVms(client)).filter((v) => !v.template && (!vmids || vmids.has(v.vmid)))
  const out: VmNics[] = []
  for (const vm of vms) {
    const config = await client.get<Record<string, unknown>>(apiPath`/nodes/${vm.node}/qemu/${vm.vmid}/config`)
    const macs = Object.entries(config)
      .filter(([k]) => /^net\d+$/.test(k))
      .flatMap(([, v]) => {
        try {
          const mac = parseNet(String(v)).macaddr
          return mac ? [mac] : []
        } catch {
          return [] // a NIC PVE accepted but this parser does not: it cannot match anyway
        }
      })
    let agentIps: string[] = []
    if (vm.status === 'running' && /^(enabled=)?1/.test(String(config.agent ?? ''))) {
      const answer = await client
        .get<{ result?: { 'ip-addresses'?: { 'ip-address': string; 'ip-address-type': string }[] }[] }>(apiPath`/nodes/${vm.node}/qemu/${vm.vmid}/agent/network-get-interfaces`)
        .catch(() => undefined) // the agent does not run (maintenance mode has none): MACs must do
      agentIps = (answer?.result ?? []).flatMap((i) => (i['ip-addresses'] ?? []).filter((a) => a['ip-address-type'] === 'ipv4').map((a) => a['ip-address'])).filter((a) => !a.startsWith('127.0.0.1'))
    }
    out.push({ vmid: vm.vmid, name: vm.name, node: vm.node, macs, agentIps })
  }
  return out
}

export interface Discovery extends FoundMachine {
  vmid?: number
  vm?: string
  pveNode?: string
  matchedBy?: 'mac' | 'guest-agent'
  /** The profile node this machine is (by the VM's VMID, the profile's MAC, or its address). */
  profileNode?: string
}

export function matchMachines(found: FoundMachine[], vms: VmNics[], profileNodes: (TalosNode & { vmid?: number })[] = []): Discovery[] {
  return found.map((m) => {
    const byMac = vms.find((v) => v.macs.some((mac) => m.macs.includes(mac)))
    const byAgent = byMac ? undefined : vms.find((v) => v.agentIps.includes(m.ip))
    const vm = byMac ?? byAgent
    const profileNode =
      (vm && profileNodes.find((n) => n.vmid === vm.vmid)) ??
      profileNodes.find((n) => n.mac && m.macs.includes(n.mac.toUpperCase())) ??
      profileNodes.find((n) => n.ip === m.ip)
    return {
      ...m,
      ...(vm ? { vmid: vm.vmid, vm: vm.name, pveNode: vm.node, matchedBy: byMac ? ('mac' as const) : ('guest-agent' as const) } : {}),
      ...(profileNode ? { profileNode: profileNode.name } : {}),
    }
  })
}

/** The subnets a profile's nodes live in (their addresses with network.prefix). */
export function profileSubnets(ips: string[], prefix: number | undefined): string[] {
  if (prefix === undefined) throw new UsageError('the profile has no network.prefix to derive the subnet from', 'give SUBNET=<cidr>')
  const ranges = new Map<string, Ipv4Range>()
  for (const ip of ips) {
    const r = rangeOf(ip, prefix)
    ranges.set(r.text, r)
  }
  return [...ranges.keys()]
}

export async function discoverMachines(subnets: string[], talosctl: Talosctl, opts: ScanOptions & { secure?: Talosctl; onProgress?: (m: string) => void }): Promise<FoundMachine[]> {
  const hosts = [...new Set(subnets.flatMap((s) => subnetHosts(s, opts)))]
  const port = opts.port ?? TALOS_API_PORT
  opts.onProgress?.(`scanning ${hosts.length} address(es) of ${subnets.join(', ')} for port ${port}`)
  const open = await scanPort(hosts, port, opts)
  const found: FoundMachine[] = []
  for (const ip of open) found.push(await inspectMachine(talosctl, ip, opts.secure))
  return found
}
