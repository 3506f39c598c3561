// talos:discover PROFILE=|SUBNET=: Talos machines on a subnet (maintenance mode or configured),
// matched to VMs by MAC (PVE config) or guest-agent address.
import { z } from 'zod'
import { existsSync } from 'node:fs'
import { outputOption, runCommand } from '../lib/cli.ts'
import { loadClusterConfig } from '../lib/config.ts'
import { createClient } from '../lib/context.ts'
import { UsageError } from '../lib/errors.ts'
import { info, printOutput, warn } from '../lib/output.ts'
import { expandMembers } from '../lib/profile.ts'
import { openTalosContext } from '../lib/talos/context.ts'
import { discoverMachines, matchMachines, profileSubnets, vmNics, type Discovery } from '../lib/talos/discover.ts'
import { talosctlFor } from '../lib/talos/stage.ts'
import { TALOS_API_PORT } from '../lib/talos/bootstrap.ts'

const columns = [
  { header: 'ip', value: (d: Discovery) => d.ip },
  { header: 'state', value: (d: Discovery) => d.state },
  { header: 'mac', value: (d: Discovery) => d.macs },
  { header: 'vmid', value: (d: Discovery) => d.vmid },
  { header: 'vm', value: (d: Discovery) => d.vm },
  { header: 'pve node', value: (d: Discovery) => d.pveNode },
  { header: 'matched by', value: (d: Discovery) => d.matchedBy },
  { header: 'profile node', value: (d: Discovery) => d.profileNode },
]

await runCommand({
  name: 'talos:discover',
  summary: 'Find Talos machines (maintenance mode or configured) on a subnet and match them to VMs by MAC or guest agent',
  details: [
    'Only the addresses of the given subnet (SUBNET=, or the subnets of the profile\'s node addresses and network.prefix)',
    `are contacted: one TCP connect to the Talos API port (${TALOS_API_PORT}) each, then \`talosctl get links --insecure\``,
    `where it is open. Subnets over 1024 addresses need --allow-large; over a /16 are refused. VM MACs come from the PVE`,
    'configs (netN); machines with no matching MAC are matched by the addresses guest agents report.',
    'Examples:',
    '  task talos:discover PROFILE=lab',
    '  task talos:discover SUBNET=192.168.10.0/24 -- --output json',
  ].join('\n'),
  options: z.strictObject({
    profile: z.string().optional().describe('cluster profile: its node subnets, VMs and talosconfig'),
    subnet: z.string().optional().describe('subnet to scan, e.g. 192.168.10.0/24 (default: the profile\'s)'),
    port: z.coerce.number().int().min(1).max(65535).default(TALOS_API_PORT).describe('Talos API port'),
    allowLarge: z.boolean().default(false).describe('scan subnets with more than 1024 addresses (up to a /16)'),
    pve: z.boolean().default(true).describe('match with the VMs of PVE (--no-pve: only scan)'),
    output: outputOption,
  }),
  async run(opts, cli) {
    if (!opts.profile && !opts.subnet) throw new UsageError('give PROFILE= or SUBNET=')
    const talos = opts.profile ? await openTalosContext(cli, opts.profile) : undefined
    const config = talos?.config ?? (await loadClusterConfig(cli.configPath))
    const talosctl = talos?.talosctl ?? talosctlFor(config)
    const members = talos ? expandMembers(talos.profile) : []
    const subnets = opts.subnet ? [opts.subnet] : profileSubnets(members.flatMap((m) => (m.ip ? [m.ip] : [])), talos!.profile.network.prefix)
    const secure = talos && existsSync(talos.paths.talosconfig) ? talosctl.withTalosconfig(talos.paths.talosconfig) : undefined
    const found = await discoverMachines(subnets, talosctl, { port: opts.port, allowLarge: opts.allowLarge, sandbox: config.sandbox, secure, onProgress: info })
    const vms = opts.pve && found.length ? await vmNics(createClient(config), talos ? new Set(members.flatMap((m) => (m.vmid ? [m.vmid] : []))) : undefined) : []
    const profileNodes = members.flatMap((m) => (m.ip ? [{ name: m.name, role: m.role, ip: m.ip, mac: m.mac, vmid: m.vmid }] : []))
    const rows = matchMachines(found, vms, profileNodes)
    printOutput(opts.output, rows, rows, columns)
    if (talos) {
      const missing = profileNodes.filter((n) => !rows.some((r) => r.profileNode === n.name))
      if (missing.length) warn(`not found: ${missing.map((n) => `${n.name} (${n.ip})`).join(', ')}`)
    }
  },
})
