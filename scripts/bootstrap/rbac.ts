#!/usr/bin/env node
// pve:bootstrap:rbac: create (or bring up to date) the tool's PVE user, role, ACL and API token over
// SSH; the token secret goes straight into pass. Then verify the stored token against the API.
import { z } from 'zod'
import { runCommand, dryRunOption } from '../lib/cli.ts'
import { loadClusterConfig } from '../lib/config.ts'
import { createClient } from '../lib/context.ts'
import { ConfigError, RefusedError } from '../lib/errors.ts'
import { info, warn } from '../lib/output.ts'
import { bootstrapRbac } from '../lib/node/bootstrap.ts'
import { fullTokenId, privilegeList } from '../lib/node/rbac.ts'
import { sshTarget } from '../lib/node/ssh.ts'

await runCommand({
  name: 'pve:bootstrap:rbac',
  summary: 'Create the PVE user, least-privilege role, ACL and API token over SSH; store the token in pass',
  details: `Runs pveum on one node as credentials.ssh_user. The token secret is piped from pveum into
\`pass insert -m <credentials.pass_path>\`: it never reaches the terminal, a file or a command line.
Running it again updates the role and keeps the token (or replaces it with --rotate, or when pass
does not hold it). Needs: ssh access to the node, pass with an initialised store.
  task pve:bootstrap:rbac NODE=pve01`,
  options: z.strictObject({
    node: z.string().min(1).optional().describe('node to run pveum on (default: the first in the config)'),
    user: z.string().regex(/^[^\s:/@]+@pve$/, 'must be a PVE-realm user, e.g. proxmox-manager@pve').default('proxmox-manager@pve').describe('PVE user'),
    role: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, 'must be a role name').default('ProxmoxManager').describe('role name'),
    token: z.string().regex(/^[A-Za-z][A-Za-z0-9._-]+$/, 'must be a token name (letters, digits, . _ -)').default('proxmox-manager').describe('token name'),
    rotate: z.boolean().default(false).describe('replace an existing token with a new one'),
    dryRun: dryRunOption,
  }),
  async run(opts, cli) {
    const config = await loadClusterConfig(cli.configPath)
    const passPath = config.credentials.pass_path
    if (!passPath) throw new ConfigError([{ file: config.file, path: 'credentials.pass_path', message: 'required: the pass entry that receives the token' }])
    if (process.env.PVE_TOKEN_ID || process.env.PVE_TOKEN_SECRET)
      throw new RefusedError('PVE_TOKEN_ID/PVE_TOKEN_SECRET are set: they would take precedence over the token stored in pass', 'unset them, then run the bootstrap again')
    const target = sshTarget(config, opts.node)
    const spec = { user: opts.user, role: opts.role, token: opts.token, comment: 'proxmox-manager automation' }
    info(`bootstrapping ${fullTokenId(spec)} with role ${spec.role} (${privilegeList().length} privileges) via ssh ${target.user}@${target.host}`)
    const result = await bootstrapRbac(target, spec, { passPath, rotate: opts.rotate, dryRun: opts.dryRun, log: info })
    if (!result.changes.length) info('user, role and ACL are up to date')
    info(`token: ${result.token}${result.token === 'kept' ? ' (use --rotate to replace it)' : ''}`)
    if (opts.dryRun) return
    // What pve:check does: the stored token reaches the API and holds the role's privileges.
    const client = createClient(config)
    try {
      await client.get('/version')
      const perms = await client.get<Record<string, Record<string, number>>>('/access/permissions', { path: '/' })
      const missing = privilegeList().filter((p) => !(perms['/'] ?? {})[p])
      if (missing.length) warn(`the token lacks ${missing.join(', ')} on / (check the ACL)`)
      else info(`verified: the token from pass ${passPath} authenticates and holds the role on /`)
    } finally {
      await client.close()
    }
  },
})
