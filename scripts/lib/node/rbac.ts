// The least-privilege role for the tool's API token, and the pveum commands that create (or bring
// up to date) the user, the role, the ACL and the token on a node over SSH.

/**
 * Every privilege the tool's commands need, with the reason. The seed's list, adjusted to what the
 * code calls: VM.Console dropped (no console is ever opened); VM.Config.CDROM (ejecting an ISO
 * before migration), Datastore.AllocateTemplate (ISO upload, download-url), Sys.AccessNetwork
 * (PVE 9: download-url probes the network from the node) added. HA node maintenance runs over
 * SSH as the SSH user, not with the token.
 */
export const ROLE_PRIVILEGES: Record<string, string> = {
  'VM.Audit': 'list guests, read configs and status',
  'VM.Allocate': 'create and delete VMs, convert to template',
  'VM.Clone': 'clone templates',
  'VM.Config.Disk': 'add, import and resize disks; remove unused disks',
  'VM.Config.CDROM': 'cloud-init drive, eject ISOs',
  'VM.Config.CPU': 'cores, CPU type',
  'VM.Config.Memory': 'memory',
  'VM.Config.Network': 'network devices',
  'VM.Config.Options': 'name, tags, description, onboot',
  'VM.Config.Cloudinit': 'cloud-init user, keys, IP configuration',
  'VM.Config.HWType': 'BIOS, machine, SCSI controller, EFI disk',
  'VM.PowerMgmt': 'start, stop, shutdown, reboot',
  'VM.Migrate': 'migration, node evacuation and return',
  'VM.Snapshot': 'create and delete snapshots',
  'VM.Snapshot.Rollback': 'roll back snapshots',
  'VM.Backup': 'vzdump backups and restore',
  'VM.GuestAgent.Audit': 'read guest IP addresses from the QEMU guest agent',
  'Datastore.Audit': 'list storages and their content',
  'Datastore.AllocateSpace': 'allocate disks on storages',
  'Datastore.Allocate': 'delete orphaned volumes',
  'Datastore.AllocateTemplate': 'upload ISOs, download images (download-url)',
  'Sys.Audit': 'cluster and node status, tasks, backup jobs, HA status',
  'Sys.AccessNetwork': 'download-url (PVE 9 requires it on the node)',
  'SDN.Use': 'attach VMs to bridges',
}

/** Never granted: the token must not reconfigure hosts, escalate, or manage users and realms. */
export const EXCLUDED_PRIVILEGES = ['Sys.Modify', 'Sys.PowerMgmt', 'Permissions.Modify', 'User.Modify', 'Realm.Allocate', 'Realm.AllocateUser']

export const privilegeList = (): string[] => Object.keys(ROLE_PRIVILEGES).sort()

export interface RbacSpec {
  user: string // name@pve
  role: string
  token: string // token name (the part after !)
  comment: string
}

/** user@pve!token, the id stored on line 1 of the pass entry. */
export const fullTokenId = (s: RbacSpec) => `${s.user}!${s.token}`

/** Shell-quotes one word for the remote shell (the values are validated names, never secrets). */
export function shq(word: string): string {
  return /^[A-Za-z0-9@!._,:/=+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}

export const remote = (...words: string[]) => words.map(shq).join(' ')

export interface ExistingRbac {
  userExists: boolean
  rolePrivs?: string[] // undefined: no such role
  aclGranted: boolean
  tokenExists: boolean
}

/** The pveum commands that bring the node to the spec, without the token step. */
export function rbacCommands(spec: RbacSpec, have: ExistingRbac): string[] {
  const cmds: string[] = []
  if (!have.userExists) cmds.push(remote('pveum', 'user', 'add', spec.user, '--comment', spec.comment))
  const privs = privilegeList()
  if (!have.rolePrivs) cmds.push(remote('pveum', 'role', 'add', spec.role, '--privs', privs.join(',')))
  else if ([...have.rolePrivs].sort().join(',') !== privs.join(',')) cmds.push(remote('pveum', 'role', 'modify', spec.role, '--privs', privs.join(',')))
  if (!have.aclGranted) cmds.push(remote('pveum', 'acl', 'modify', '/', '--users', spec.user, '--roles', spec.role))
  return cmds
}

/** Parses `pveum role list --output-format json` privileges ("A,B" or ["A","B"]). */
export function parsePrivs(privs: unknown): string[] {
  if (Array.isArray(privs)) return privs.map(String)
  if (typeof privs === 'string') return privs.split(/[,;\s]+/).filter(Boolean)
  if (privs && typeof privs === 'object') return Object.entries(privs).filter(([, v]) => v).map(([k]) => k)
  return []
}
