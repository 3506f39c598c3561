// pve:cluster:validate: check one profile or all of clusters/ (schema, isolation rules) offline.
import { relative } from 'node:path'
import { z } from 'zod'
import { runCommand } from '../lib/cli.ts'
import { loadClusterConfig } from '../lib/config.ts'
import { ConfigError, formatConfigIssue } from '../lib/errors.ts'
import { info, warn } from '../lib/output.ts'
import { checkAllProfiles } from '../lib/profile.ts'

await runCommand({
  name: 'pve:cluster:validate',
  summary: 'Validate cluster profiles (all of clusters/, or one) without contacting PVE',
  details: `Checks the schema and the safety rules: file name = name; VMIDs inside vmid_ranges.vms and
disjoint from every other profile; a tag unique to the cluster; distinct Flux paths; pod/service
CIDRs disjoint between profiles and from the node networks; addresses inside the node network;
the VIP not a node address; counts and assignments consistent. Even control-plane counts warn.

Examples:
  task pve:cluster:validate
  task pve:cluster:validate PROFILE=talos-staging`,
  options: z.strictObject({
    profile: z.string().optional().describe('profile name (clusters/<name>.yaml) or path; default: all'),
  }),
  run: async (opts, cli) => {
    const config = await loadClusterConfig(cli.configPath)
    const reports = await checkAllProfiles(config, {}, opts.profile)
    if (!reports.length) {
      warn('no profiles in clusters/')
      return
    }
    for (const r of reports) {
      for (const w of r.warnings) warn(formatConfigIssue(w))
      if (!r.errors.length) info(`ok: ${relative(process.cwd(), r.file)}`)
    }
    const errors = reports.flatMap((r) => r.errors)
    if (errors.length) throw new ConfigError(errors)
  },
})
