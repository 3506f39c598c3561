// The entry-point side of every selector command (pve:bulk:*, pve:tag:*, pve:snap:prune,
// pve:backup:create with SELECTOR): shared options, the plan preview, confirmation for
// destructive verbs, the result table and the exit code.
import { z } from 'zod'
import { runCommand, dryRunOption, outputOption, yesOption, type GlobalFlags } from '../cli.ts'
import { printOutput } from '../output.ts'
import { confirmDestructive, confirmTyped } from '../prompts.ts'
import type { VmResource } from './api.ts'
import { bulkFailure, checkedSelector, runBulk, type BulkSpec } from './bulk.ts'
import { allOption, bulkColumns, lockTimeoutOption, openVmOps, previewRows, selectorOption, vmList, type VmCommandContext } from './command.ts'

export interface BulkCommandDef<S extends z.ZodRawShape> {
  name: string
  summary: string
  details?: string
  verb: string
  /** Destroys data: asks for confirmation (typed count when `typed`), needs --yes without a terminal. */
  destructive?: 'confirm' | 'typed'
  options: S
  spec: (o: z.infer<z.ZodObject<S>> & BaseOptions, ctx: VmCommandContext) => Omit<BulkSpec, 'preview' | 'confirm'>
}

interface BaseOptions {
  selector?: string
  all: boolean
  dryRun: boolean
  yes: boolean
  perNode?: number
  lockTimeout: number
  output: 'table' | 'json' | 'yaml'
}

const baseOptions = {
  selector: selectorOption,
  all: allOption,
  dryRun: dryRunOption,
  yes: yesOption,
  perNode: z.coerce.number().int().min(1).max(64).optional().describe('parallel operations per node (default: limits.per_node of the config)'),
  lockTimeout: lockTimeoutOption,
  output: outputOption,
}

export function runBulkCommand<S extends z.ZodRawShape>(def: BulkCommandDef<S>): Promise<never> {
  return runCommand({
    name: def.name,
    summary: def.summary,
    details: [def.details, "Selector: task ... SELECTOR='@tag-web,-101'; an empty or match-all selector needs --all. Templates are never touched."]
      .filter(Boolean)
      .join('\n'),
    options: z.strictObject({ ...baseOptions, ...def.options }),
    positional: 'selector',
    async run(raw, cli: GlobalFlags) {
      const o = raw as unknown as z.infer<z.ZodObject<S>> & BaseOptions
      checkedSelector(o.selector, o.all) // refuse before reading the config or sending anything
      const ctx = await openVmOps(cli, { lockTimeout: o.lockTimeout })
      const spec = def.spec(o, ctx)
      const confirm = def.destructive
        ? async (vms: VmResource[]) => {
            const what = `${def.verb} ${vms.length} VM${vms.length === 1 ? '' : 's'}: ${vmList(vms)}`
            if (def.destructive === 'typed') await confirmTyped(`About to ${what}.`, String(vms.length), { yes: o.yes })
            else await confirmDestructive(`${what[0].toUpperCase()}${what.slice(1)}?`, { yes: o.yes })
          }
        : undefined
      const report = await runBulk(
        ctx.ops,
        { selector: o.selector, all: o.all, dryRun: o.dryRun, perNode: o.perNode ?? ctx.config.limits.per_node },
        { ...spec, confirm, preview: previewRows(o.output) },
      )
      if (!o.dryRun && report.rows.length) printOutput(o.output, report.rows, report.rows, bulkColumns)
      const failure = bulkFailure(report, def.name)
      if (failure) throw failure
    },
  })
}
