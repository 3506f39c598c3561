// pve:cluster:status: the cluster's VMs (every profile tag, AND; templates excluded) with role,
// node, state, address, lock and drift from the profile. Read-only.
import { z } from 'zod'
import { outputOption, runCommand } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { printOutput, info } from '../lib/output.ts'
import { loadProfile } from '../lib/profile.ts'
import { clusterStatus } from '../lib/cluster/status.ts'

await runCommand({
  name: 'pve:cluster:status',
  summary: "Show the cluster's VMs: role, node, state, IP, lock, and drift from the profile",
  options: z.strictObject({
    profile: z.string().min(1).describe('profile name (clusters/<name>.yaml) or path'),
    output: outputOption,
  }),
  run: async (opts, cli) => {
    const { config, client } = await openContext(cli)
    const profile = await loadProfile(opts.profile, config)
    const rows = await clusterStatus({ client, config, profile })
    printOutput(opts.output, rows, rows, [
      { header: 'name', value: (r) => r.name },
      { header: 'vmid', value: (r) => r.vmid, align: 'right' },
      { header: 'role', value: (r) => r.role },
      { header: 'node', value: (r) => r.node },
      { header: 'state', value: (r) => r.state },
      { header: 'ip', value: (r) => r.ip },
      { header: 'lock', value: (r) => r.lock },
      { header: 'drift', value: (r) => r.drift.join('; ') || 'none' },
    ])
    const drifted = rows.filter((r) => r.drift.length).length
    info(`${profile.name}: ${rows.filter((r) => r.state !== 'missing').length} of ${rows.filter((r) => r.inProfile).length} VMs exist${drifted ? `, ${drifted} drifted (task pve:cluster:plan PROFILE=${profile.name} shows the fix)` : ', no drift'}`)
  },
})
