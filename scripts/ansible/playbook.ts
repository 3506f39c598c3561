#!/usr/bin/env node
// Runs one of the project's playbooks (ansible/playbooks/) with the pinned Ansible, the dynamic
// inventory and the credentials in the environment. Host plays (pve-servers, ping) get no API
// token; reboot-vms lists the VMs and confirms first; talos-provision-vms gives the profile's
// cluster its owner id (state file, or adopted from its VMs) before Ansible plans the VMs.
import { z } from 'zod'
import { runCommand, yesOption, dryRunOption } from '../lib/cli.ts'
import { loadClusterConfig } from '../lib/config.ts'
import { resolveCredentials } from '../lib/credentials.ts'
import { ConfigError, RefusedError, UsageError } from '../lib/errors.ts'
import { info } from '../lib/output.ts'
import { confirmDestructive } from '../lib/prompts.ts'
import { PLAYBOOKS, playbookEnv, playbookExit, runPlaybook, type Playbook } from '../lib/ansible/run.ts'
import { ensureClusterId, profileVms, REBOOT_GROUPS } from '../lib/ansible/vms.ts'

const API_PLAYBOOKS: Playbook[] = ['reboot-vms', 'talos-provision-vms']

await runCommand({
  name: 'ansible:hosts | ansible:ping | ansible:reboot-vms | ansible:provision',
  summary: 'Run a playbook of ansible/playbooks with the inventory from cluster-config.yaml and the profiles',
  details: [
    'Examples:',
    '  playbook.ts --playbook pve-servers --limit pve01 --tags ntp,usermgmt',
    '  playbook.ts --playbook reboot-vms --profile talos-staging --group workers --batch 2 --yes',
    '  playbook.ts --playbook talos-provision-vms --profile talos-staging',
    'Arguments after -- go to ansible-playbook as they are (e.g. -- -vv --check --diff).',
  ].join('\n'),
  options: z.strictObject({
    playbook: z.enum(PLAYBOOKS).describe('which playbook'),
    limit: z.string().optional().describe('hosts or groups to limit the run to (ansible --limit)'),
    tags: z.string().optional().describe('only these tags, comma-separated (host roles are tagged with their name)'),
    profile: z.string().optional().describe('cluster profile (reboot-vms, talos-provision-vms)'),
    group: z.enum(REBOOT_GROUPS).default('all').describe('reboot-vms: which VMs of the profile'),
    batch: z.coerce.number().int().min(1).default(1).describe('reboot-vms: VMs rebooted at the same time'),
    yes: yesOption,
    dryRun: dryRunOption,
    ansibleArgs: z.array(z.string()).default([]).describe('extra ansible-playbook arguments (after --)'),
  }),
  positional: 'ansibleArgs',
  async run(opts, flags) {
    const config = await loadClusterConfig(flags.configPath)
    const usesApi = API_PLAYBOOKS.includes(opts.playbook)
    if (usesApi && !opts.profile) throw new UsageError(`--profile is required for ${opts.playbook}`)
    if (!usesApi && opts.profile) throw new UsageError(`--profile only applies to ${API_PLAYBOOKS.join(' and ')}`)
    if (usesApi && !config.tls.ca_file && !config.tls.insecure) {
      // proxmoxer verifies with a CA bundle; it cannot pin a fingerprint before sending the token.
      throw new ConfigError([{ file: config.file, path: 'tls', message: 'the Ansible playbooks that use the API need tls.ca_file (fingerprint pinning is not available to proxmoxer)' }])
    }
    const args = [...(opts.limit ? ['--limit', opts.limit] : []), ...(opts.tags ? ['--tags', opts.tags] : [])]
    if (!usesApi) {
      if (opts.dryRun) args.push('--check', '--diff')
      const result = await runPlaybook({ playbook: opts.playbook, args: [...args, ...opts.ansibleArgs], env: playbookEnv(config, {}) })
      return playbookExit(result.code)
    }

    const profile = opts.profile!
    const vms = await profileVms(config, profile, opts.playbook === 'reboot-vms' ? opts.group : 'all')
    if (!vms.length) throw new RefusedError(`profile ${profile} has no VMs in group ${opts.group}: nothing to do`)
    const list = vms.map((v) => `  ${v.name} (VMID ${v.vmid}, ${v.role})`).join('\n')
    if (opts.playbook === 'reboot-vms') {
      const message = `Reboot ${vms.length} VM(s) of ${profile}, ${opts.batch} at a time, waiting for each batch to come back:\n${list}`
      if (opts.dryRun) return info(`${message}\n(dry run: nothing rebooted)`)
      await confirmDestructive(`${message}\nReboot them?`, { yes: opts.yes })
      args.push('-e', JSON.stringify({ reboot_vms_profile: profile, reboot_vms_group: opts.group, reboot_vms_batch: opts.batch }))
    } else {
      if (opts.dryRun) return info(`Would provision ${vms.length} VM(s) of ${profile} (task pve:cluster:plan PROFILE=${profile} shows each change):\n${list}`)
      const owner = await ensureClusterId(config, profile)
      info(`cluster ${profile}: owner id ${owner.clusterId}${owner.fresh ? ' (new)' : ''}`)
      args.push('-e', JSON.stringify({ talos_provision_profile: profile }))
    }
    const env = playbookEnv(config, { credentials: await resolveCredentials(config), profile })
    const result = await runPlaybook({ playbook: opts.playbook, args: [...args, ...opts.ansibleArgs], env })
    return playbookExit(result.code)
  },
})
