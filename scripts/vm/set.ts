// pve:vm:set — change a VM's config, sending only what differs from what PVE has (compared under
// PVE's normalisation) with the digest; never reboots; says which changes wait for a restart.
import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { z } from 'zod'
import { runCommand, dryRunOption, outputOption, vmidSchema } from '../lib/cli.ts'
import { UsageError } from '../lib/errors.ts'
import { info, printOutput } from '../lib/output.ts'
import { lockTimeoutOption, openVmOps } from '../lib/vm/command.ts'
import { findVm } from '../lib/vm/context.ts'
import { setVmConfig, type AppliedChange } from '../lib/vm/configure.ts'
import { decodeSshKeys, sshKeyLines } from '../lib/vm/normalize.ts'

/** SSHKEYS= is key text (ssh-ed25519 AAAA...) or a file of keys (~ expanded). */
function readSshKeys(value: string | undefined): string | undefined {
  if (value === undefined || /^(ssh-|ecdsa-|sk-)/.test(value.trim())) return value
  const path = value.replace(/^~(?=\/|$)/, homedir())
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new UsageError(`SSHKEYS: '${value}' is neither a public key nor a readable file (${(err as NodeJS.ErrnoException).code})`)
  }
}

function parseExtra(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const p of pairs) {
    const eq = p.indexOf('=')
    if (eq < 1) throw new UsageError(`--set '${p}': expected key=value (key= with nothing after '=' deletes the key)`)
    out[p.slice(0, eq)] = p.slice(eq + 1)
  }
  return out
}

const shown = (key: string, v: unknown) => {
  if (v === undefined || v === null) return '-'
  if (key === 'sshkeys') {
    const n = sshKeyLines(decodeSshKeys(String(v))).length
    return `${n} key${n === 1 ? '' : 's'}`
  }
  return String(v)
}

const EFFECT: Record<AppliedChange['effect'], string> = { immediate: 'applied', 'next-boot': 'at next boot (cloud-init)', pending: 'pending until restart' }

await runCommand({
  name: 'pve:vm:set',
  summary: 'Change VM settings; sends only what differs (with digest), never reboots',
  details: `Example: task pve:vm:set VMID=1031 CORES=4 MEMORY=8192 IP=192.0.2.31/24 GW=192.0.2.1
Other config keys: -- --set onboot=1 --set description=web (key= deletes the key).
A re-run with the same values sends nothing. Changes a running VM cannot take live stay pending
until the next restart; the command says which.`,
  options: z.strictObject({
    vmid: vmidSchema.describe('the VM'),
    cores: z.coerce.number().int().min(1).optional().describe('CPU cores per socket'),
    sockets: z.coerce.number().int().min(1).optional().describe('CPU sockets'),
    memory: z.coerce.number().int().min(16).optional().describe('memory in MiB'),
    name: z.string().optional().describe('VM name (DNS name)'),
    tags: z.string().optional().describe('replace all tags (; , or space separated); see pve:tag:* to add/remove one'),
    net: z.string().optional().describe("network device, e.g. virtio,bridge=vmbr0,tag=10 (the existing MAC is kept)"),
    ip: z.string().optional().describe('cloud-init IPv4/CIDR, dhcp or manual (ipconfig)'),
    gw: z.string().optional().describe('cloud-init IPv4 gateway (empty removes it)'),
    ciuser: z.string().optional().describe('cloud-init user'),
    sshkeys: z.string().optional().describe('cloud-init public keys: key text or a file of keys'),
    nameserver: z.string().optional().describe('cloud-init DNS servers'),
    searchdomain: z.string().optional().describe('cloud-init DNS search domain'),
    description: z.string().optional().describe('VM notes'),
    index: z.coerce.number().int().min(0).max(31).default(0).describe('interface for NET/IP/GW (net<i>, ipconfig<i>)'),
    set: z.array(z.string()).default([]).describe('other config keys as key=value (repeatable)'),
    dryRun: dryRunOption,
    lockTimeout: lockTimeoutOption,
    output: outputOption,
  }),
  async run(o, cli) {
    const settings = {
      cores: o.cores,
      sockets: o.sockets,
      memory: o.memory,
      name: o.name,
      tags: o.tags,
      net: o.net,
      ip: o.ip,
      gw: o.gw,
      ciuser: o.ciuser,
      sshkeys: readSshKeys(o.sshkeys),
      nameserver: o.nameserver,
      searchdomain: o.searchdomain,
      description: o.description,
      index: o.index,
      extra: parseExtra(o.set),
    }
    const { ops } = await openVmOps(cli, { lockTimeout: o.lockTimeout })
    const vm = await findVm(ops.api, o.vmid)
    const res = await setVmConfig(ops, vm, settings, { dryRun: o.dryRun })
    if (!res.changes.length) {
      info(`VM ${vm.vmid}: already as requested; nothing sent`)
      if (o.output !== 'table') printOutput(o.output, res, [], [])
      return
    }
    const rows = res.changes.map((c) => ({ key: c.key, from: shown(c.key, c.from), to: shown(c.key, c.to), effect: o.dryRun ? `would be ${EFFECT[c.effect]}` : EFFECT[c.effect] }))
    printOutput(o.output, res, rows, [
      { header: 'key', value: (r) => r.key },
      { header: 'from', value: (r) => r.from },
      { header: 'to', value: (r) => r.to },
      { header: 'effect', value: (r) => r.effect },
    ])
    if (res.pending.length) info(`VM ${vm.vmid} is running: ${res.pending.join(', ')} stay pending until it is restarted (not rebooted by this command; task pve:vm:reboot VMID=${vm.vmid} when convenient)`)
  },
})
