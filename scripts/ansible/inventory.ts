#!/usr/bin/env node
// Ansible script inventory: `inventory.ts --list` prints hosts, groups and variables computed from
// cluster-config.yaml ($PVE_CONFIG), the cluster profiles ($PM_CLUSTERS_DIR, default clusters/) and,
// when PVE_TOKEN_ID/PVE_TOKEN_SECRET are set, the API. ansible/inventory/ links here.
//   groups: pve (the hosts), <profile> → <profile>_controlplane/_workers, controlplane, workers
import { dirname, resolve } from 'node:path'
import { z } from 'zod'
import { runCommand } from '../lib/cli.ts'
import { loadClusterConfig } from '../lib/config.ts'
import { createClient } from '../lib/context.ts'
import { UsageError } from '../lib/errors.ts'
import { buildInventory, hostVars } from '../lib/ansible/inventory.ts'
import { fetchLive, loadProfiles, resolveOwners } from '../lib/ansible/sources.ts'

// Ansible runs inventories from wherever ansible-playbook was started: defaults are relative to the repo.
const repoRoot = resolve(dirname(new URL(import.meta.url).pathname), '../..')
const fromEnv = (name: string, fallback: string) => (process.env[name] ? resolve(process.env[name]) : resolve(repoRoot, fallback))

await runCommand({
  name: 'ansible/inventory',
  summary: 'Ansible inventory from cluster-config.yaml, the cluster profiles and the API (JSON for --list / --host)',
  options: z.strictObject({
    list: z.boolean().default(false).describe('print the whole inventory'),
    host: z.string().optional().describe('print the variables of one host'),
    profile: z.string().optional().describe('only this cluster profile (default: all in clusters/; env PM_PROFILE)'),
  }),
  async run(opts, flags) {
    if (opts.list === Boolean(opts.host)) throw new UsageError('give exactly one of --list or --host <name>')
    const config = await loadClusterConfig(flags.configPath === 'cluster-config.yaml' ? fromEnv('PVE_CONFIG', 'cluster-config.yaml') : flags.configPath)
    const profiles = await loadProfiles(config, fromEnv('PM_CLUSTERS_DIR', 'clusters'), opts.profile ?? (process.env.PM_PROFILE || undefined))
    const useApi = Boolean(process.env.PVE_TOKEN_ID) && process.env.PM_INVENTORY_API !== '0'
    const live = useApi ? await fetchLive(createClient(config), config, profiles) : undefined
    const owners = resolveOwners(profiles, config, live, fromEnv('PM_STATE_DIR', '.state'))
    const inventory = buildInventory({ config, profiles, owners, live })
    process.stdout.write(JSON.stringify(opts.host ? hostVars(inventory, opts.host) : inventory, null, 2) + '\n')
  },
})
