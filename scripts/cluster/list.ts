// pve:cluster:list: the profiles in clusters/, with their shape and whether they are valid.
import { relative } from 'node:path'
import { z } from 'zod'
import { outputOption, runCommand } from '../lib/cli.ts'
import { loadClusterConfig } from '../lib/config.ts'
import { printOutput } from '../lib/output.ts'
import { checkAllProfiles, expandMembers } from '../lib/profile.ts'

interface Row {
  name: string
  file: string
  type?: string
  controlplanes?: number
  workers?: number
  vmids?: string
  template?: number
  tags?: string[]
  valid: boolean
  errors: number
}

await runCommand({
  name: 'pve:cluster:list',
  summary: 'List the cluster profiles in clusters/ (offline)',
  options: z.strictObject({ output: outputOption }),
  run: async (opts, cli) => {
    const config = await loadClusterConfig(cli.configPath)
    const rows: Row[] = (await checkAllProfiles(config, { onWarning: () => {} })).map((r) => {
      const name = relative('clusters', r.file).replace(/\.ya?ml$/, '')
      const p = r.profile
      if (!p) return { name, file: relative(process.cwd(), r.file), valid: false, errors: r.errors.length }
      const vmids = expandMembers(p, config).map((m) => m.vmid!)
      return {
        name: p.name,
        file: relative(process.cwd(), r.file),
        type: p.type,
        controlplanes: p.nodes.controlplane.count,
        workers: p.nodes.workers?.count ?? 0,
        vmids: vmids.length ? `${Math.min(...vmids)}-${Math.max(...vmids)}` : '',
        template: p.template,
        tags: p.tags,
        valid: true,
        errors: 0,
      }
    })
    printOutput(opts.output, rows, rows, [
      { header: 'name', value: (r) => r.name },
      { header: 'type', value: (r) => r.type },
      { header: 'cp', value: (r) => r.controlplanes, align: 'right' },
      { header: 'workers', value: (r) => r.workers, align: 'right' },
      { header: 'vmids', value: (r) => r.vmids },
      { header: 'template', value: (r) => r.template, align: 'right' },
      { header: 'tags', value: (r) => r.tags },
      { header: 'valid', value: (r) => (r.valid ? 'yes' : `no (${r.errors} error${r.errors === 1 ? '' : 's'}: task pve:cluster:validate)`) },
    ])
  },
})
