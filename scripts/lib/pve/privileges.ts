// The privileges the tool needs on `/` (the least-privilege role in the README), and what each is
// used for, so `pve:check` can say which commands a token cannot run. Keep in step with the calls.
export interface ToolPrivilege {
  privilege: string
  usedFor: string
}

export const TOOL_PRIVILEGES: readonly ToolPrivilege[] = [
  { privilege: 'Sys.Audit', usedFor: 'pve:status (cluster and node status), reading tasks the token does not own' },
  { privilege: 'VM.Audit', usedFor: 'seeing VMs at all: pve:vms, pve:templates, pve:vm:config, every VMID lookup' },
  { privilege: 'Datastore.Audit', usedFor: 'storage and backup listings' },
  { privilege: 'VM.PowerMgmt', usedFor: 'start, stop, shutdown, reboot, suspend, resume' },
  { privilege: 'VM.Clone', usedFor: 'cloning templates' },
  { privilege: 'VM.Allocate', usedFor: 'creating (clone target), deleting, converting to template' },
  { privilege: 'VM.Config.Disk', usedFor: 'disk resize, disk moves' },
  { privilege: 'VM.Config.CDROM', usedFor: 'attaching ISOs' },
  { privilege: 'VM.Config.CPU', usedFor: 'setting cores' },
  { privilege: 'VM.Config.Memory', usedFor: 'setting memory' },
  { privilege: 'VM.Config.Network', usedFor: 'network devices' },
  { privilege: 'VM.Config.HWType', usedFor: 'bios, machine, scsihw' },
  { privilege: 'VM.Config.Options', usedFor: 'name, tags, description, protection, agent' },
  { privilege: 'VM.Config.Cloudinit', usedFor: 'cloud-init user, keys, ipconfig' },
  { privilege: 'VM.Migrate', usedFor: 'migration, node maintenance (evacuation)' },
  { privilege: 'VM.Snapshot', usedFor: 'creating and deleting snapshots' },
  { privilege: 'VM.Snapshot.Rollback', usedFor: 'rolling back to a snapshot' },
  { privilege: 'VM.Backup', usedFor: 'backups (vzdump)' },
  { privilege: 'VM.GuestAgent.Audit', usedFor: 'reading guest IP addresses through the agent' },
  { privilege: 'Datastore.AllocateSpace', usedFor: 'disks of new VMs and backups on a storage' },
  { privilege: 'Datastore.AllocateTemplate', usedFor: 'uploading ISOs and cloud images' },
  { privilege: 'Sys.AccessNetwork', usedFor: 'download-url: pve:iso:upload URL=, pve:template:create' },
  { privilege: 'Datastore.Allocate', usedFor: 'pve:disks:orphans:remove of volumes no VM references' },
  { privilege: 'SDN.Use', usedFor: 'attaching VMs to bridges' },
]

/** GET /access/permissions: path → privilege → propagate flag. */
export type PermissionMap = Record<string, Record<string, number>>

/** Privileges of TOOL_PRIVILEGES the token lacks on `/`. */
export function missingPrivileges(perms: PermissionMap): ToolPrivilege[] {
  const root = perms['/'] ?? {}
  return TOOL_PRIVILEGES.filter((p) => !(p.privilege in root))
}
