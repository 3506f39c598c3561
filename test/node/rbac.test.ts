import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EXCLUDED_PRIVILEGES, privilegeList, rbacCommands, remote, parsePrivs } from '../../scripts/lib/node/rbac.ts'
import { TOOL_PRIVILEGES } from '../../scripts/lib/pve/privileges.ts'

const spec = { user: 'automation@pve', role: 'ProxmoxManager', token: 'pm', comment: 'proxmox-manager automation' }

test('the role grants what the tool calls and nothing that escalates', () => {
  const privs = privilegeList()
  for (const p of ['VM.Migrate', 'Datastore.AllocateTemplate', 'Sys.AccessNetwork', 'VM.Config.CDROM', 'Datastore.Allocate']) assert.ok(privs.includes(p), p)
  for (const p of [...EXCLUDED_PRIVILEGES, 'VM.Console']) assert.ok(!privs.includes(p), p)
})

test('the role the bootstrap creates is exactly the one pve:check checks', () => {
  assert.deepEqual([...privilegeList()].sort(), TOOL_PRIVILEGES.map((p) => p.privilege).sort())
})

test('a fresh node gets user, role and ACL; an up-to-date node gets nothing; a drifted role is modified', () => {
  const fresh = rbacCommands(spec, { userExists: false, aclGranted: false, tokenExists: false })
  assert.equal(fresh.length, 3)
  assert.match(fresh[0], /^pveum user add automation@pve --comment 'proxmox-manager automation'$/)
  assert.match(fresh[1], /^pveum role add ProxmoxManager --privs Datastore\.Allocate,/)
  assert.equal(fresh[2], 'pveum acl modify / --users automation@pve --roles ProxmoxManager')
  assert.deepEqual(rbacCommands(spec, { userExists: true, rolePrivs: [...privilegeList()].reverse(), aclGranted: true, tokenExists: true }), [])
  const drift = rbacCommands(spec, { userExists: true, rolePrivs: ['VM.Audit'], aclGranted: true, tokenExists: true })
  assert.match(drift[0], /^pveum role modify ProxmoxManager --privs /)
})

test('remote words are quoted for the remote shell', () => {
  assert.equal(remote('echo', "it's", 'a b', 'x@pve!t'), `echo 'it'\\''s' 'a b' x@pve!t`)
  assert.deepEqual(parsePrivs('VM.Audit,Sys.Audit'), ['VM.Audit', 'Sys.Audit'])
  assert.deepEqual(parsePrivs({ 'VM.Audit': 1, 'Sys.Audit': 0 }), ['VM.Audit'])
})
