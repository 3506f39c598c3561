#!/usr/bin/env node
// pve:vm:migrate: move one guest to another node (PVE pre-check, local disks, capacity, wait).
import { z } from 'zod'
import { runCommand, vmidSchema, dryRunOption, waitOption, outputOption } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { NotFoundError } from '../lib/errors.ts'
import { info, printOutput } from '../lib/output.ts'
import { locateGuest, migrateGuest, prepareMigration } from '../lib/node/migrate.ts'
import { DEFAULT_POLICY } from '../lib/node/placement.ts'
import { apiPath } from '../lib/pve/client.ts'

const columns = [
  { header: 'vmid', value: (r: { vmid: number }) => r.vmid },
  { header: 'from', value: (r: { from: string }) => r.from },
  { header: 'to', value: (r: { to: string }) => r.to },
  { header: 'mode', value: (r: { mode: string }) => r.mode },
  { header: 'local disks', value: (r: { withLocalDisks: boolean }) => (r.withLocalDisks ? 'yes' : 'no') },
  { header: 'target storage', value: (r: { targetStorage?: string }) => r.targetStorage },
]

await runCommand({
  name: 'pve:vm:migrate',
  summary: 'Migrate a VM to another node (live when it runs), with PVE pre-check and capacity check',
  details: `Local disks travel with the VM (with-local-disks); when the target lacks the source storage,
the disks go to --target-storage (default: the config's defaults.storage, else the roomiest image storage).
HA-managed VMs become an HA migration request; the command waits until the VM has arrived. Examples:
  task pve:vm:migrate VMID=1031 TARGET=pve02
  task pve:vm:migrate VMID=1031 TARGET=pve02 BWLIMIT=102400 -- --dry-run`,
  options: z.strictObject({
    vmid: vmidSchema.describe('VM to migrate'),
    target: z.string().min(1).describe('target node'),
    online: z.enum(['auto', '1', '0', 'true', 'false']).default('auto').describe('live migration: auto (when running), 1 or 0'),
    bwlimit: z.coerce.number().int().min(0).optional().describe('bandwidth limit in KiB/s'),
    targetStorage: z.string().min(1).optional().describe('storage on the target for local disks'),
    memReserve: z.coerce.number().min(0).max(0.9).default(DEFAULT_POLICY.memReserve).describe('fraction of target memory kept free'),
    force: z.boolean().default(false).describe('skip the target capacity check'),
    dryRun: dryRunOption,
    wait: waitOption,
    output: outputOption,
  }),
  async run(opts, cli) {
    const { config, client } = await openContext(cli)
    const guest = await locateGuest(client, opts.vmid)
    if (!guest) throw new NotFoundError(`VM ${opts.vmid} does not exist`, 'list VMs with: task pve:vms')
    const online = opts.online === 'auto' ? 'auto' : opts.online === '1' || opts.online === 'true'
    const migrateOpts = {
      target: opts.target,
      online,
      bwlimit: opts.bwlimit,
      targetStorage: opts.targetStorage,
      force: opts.force,
      policy: { memReserve: opts.memReserve },
      defaultStorage: config.defaults.storage,
      onLog: (line: string) => info(`  ${line}`),
    } as const
    if (opts.dryRun || !opts.wait) {
      const { params, result } = await prepareMigration(client, guest, migrateOpts)
      if (opts.dryRun) {
        info(`would migrate VM ${guest.vmid} from ${guest.node} to ${opts.target} (${result.mode}${result.withLocalDisks ? ', with local disks' : ''}${result.targetStorage ? `, disks to ${result.targetStorage}` : ''})`)
        printOutput(opts.output, { ...result, params }, [result], columns)
        return
      }
      const upid = await client.post<string>(apiPath`/nodes/${guest.node}/${guest.type}/${guest.vmid}/migrate`, params)
      process.stdout.write(`${upid}\n`)
      return
    }
    info(`migrating VM ${guest.vmid} (${guest.name ?? ''}) from ${guest.node} to ${opts.target}…`)
    const result = await migrateGuest(client, guest, migrateOpts)
    printOutput(opts.output, result, [result], columns)
  },
})
