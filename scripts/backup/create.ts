// pve:backup:create — vzdump now, for one VM (VMID=) or a selector (SELECTOR=); one job per node.
import { z } from 'zod'
import { runCommand, dryRunOption, outputOption, vmidSchema, waitOption } from '../lib/cli.ts'
import { UsageError } from '../lib/errors.ts'
import { printOutput } from '../lib/output.ts'
import { parseSelector, requireSelection, assertSelectorAllowed } from '../lib/selector.ts'
import { BACKUP_MODES, COMPRESSIONS, backupBatch, vzdumpBatches } from '../lib/vm/backup.ts'
import { allOption, openVmOps, selectorOption } from '../lib/vm/command.ts'
import { findVm, listVmResources } from '../lib/vm/context.ts'
import { runBounded } from '../lib/vm/executor.ts'
import { assertPrivileges, vmRequirements } from '../lib/vm/permissions.ts'

await runCommand({
  name: 'pve:backup:create',
  summary: 'Back up VMs now (vzdump): VMID=<id> or SELECTOR=<selector>',
  details: 'Example: task pve:backup:create SELECTOR=@tag-db STORAGE=backup MODE=snapshot COMPRESS=zstd',
  options: z.strictObject({
    vmid: vmidSchema.optional().describe('one VM'),
    selector: selectorOption,
    all: allOption,
    storage: z.string().min(1).optional().describe('backup storage (default: the node\'s vzdump default)'),
    mode: z.enum(BACKUP_MODES).default('snapshot').describe('snapshot (online), suspend or stop'),
    compress: z.enum(COMPRESSIONS).default('zstd').describe('compression'),
    notesTemplate: z.string().optional().describe('notes, with {{guestname}} {{vmid}} {{node}} {{cluster}}'),
    wait: waitOption,
    dryRun: dryRunOption,
    output: outputOption,
  }),
  async run(o, cli) {
    if ((o.vmid === undefined) === (o.selector === undefined) && !o.all) throw new UsageError('give either VMID or SELECTOR')
    const sel = o.vmid === undefined ? parseSelector(o.selector) : undefined
    if (sel) assertSelectorAllowed(sel, { all: o.all })
    const { ops } = await openVmOps(cli)
    const vms = sel ? requireSelection(sel, await listVmResources(ops.api), { all: o.all }).vms : [await findVm(ops.api, o.vmid!)]
    const batches = vzdumpBatches(vms)
    const rows = batches.map((b) => ({ node: b.node, vmids: b.vmids.join(','), upid: '' }))
    if (o.dryRun || !vms.length) return printOutput(o.output, rows, rows, [{ header: 'node', value: (r) => r.node }, { header: 'vmids', value: (r) => r.vmids }])
    await assertPrivileges(ops.api, [
      ...vmRequirements(vms, 'VM.Backup'),
      ...(o.storage ? [{ path: `/storage/${o.storage}`, privilege: 'Datastore.AllocateSpace' }] : []),
    ])
    // vzdump runs one job at a time per node anyway; the nodes work in parallel
    const results = await runBounded(batches, { perKey: 1, keyOf: (b) => b.node }, (b) =>
      backupBatch(ops, b, { storage: o.storage, mode: o.mode, compress: o.compress, notesTemplate: o.notesTemplate, wait: o.wait }),
    )
    const out = results.map((r) => ({ node: r.item.node, vmids: r.item.vmids.join(','), result: r.ok ? (o.wait ? 'done' : 'started') : 'failed', upid: r.ok ? r.value.upid : String((r.error as Error).message).split('\n')[0] }))
    printOutput(o.output, out, out, [
      { header: 'node', value: (r) => r.node },
      { header: 'vmids', value: (r) => r.vmids },
      { header: 'result', value: (r) => r.result },
      { header: 'upid', value: (r) => r.upid },
    ])
    const failed = results.find((r) => !r.ok)
    if (failed && !failed.ok) throw failed.error
  },
})
