// Volume references inside guest configs, parsed the way PVE does (QemuServer drive strings,
// PVE::Storage::parse_volname): enough to know which volumes a guest or a snapshot holds.

/** Config keys that hold a volume: drives, EFI/TPM state, unused disks, saved RAM state. */
const VOLUME_KEY = /^(?:(?:scsi|virtio|sata|ide)\d+|efidisk0|tpmstate0|unused\d+|vmstate|rootfs|mp\d+)$/

export interface VolumeRef {
  key: string // config key, e.g. scsi0, unused1, vmstate
  volid: string // storage:volname
  storage: string
  cdrom: boolean
  unused: boolean
}

/** storage:volname → its parts; undefined for things that are not storage volumes (none, cdrom, /dev/…). */
export function parseVolid(volid: string): { storage: string; volname: string } | undefined {
  const m = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/i.exec(volid)
  if (!m) return undefined
  return { storage: m[1], volname: m[2] }
}

/**
 * The VMID that owns a volume, from its name: vm-<id>-…, base-<id>-…, subvol-<id>-…, and the
 * `<id>/…` directory layout (for linked clones on dir storage the last component is the owner).
 */
export function volumeOwner(volname: string): number | undefined {
  const last = volname.split('/').filter(Boolean)
  for (let i = last.length - 1; i >= 0; i--) {
    const m = /^(?:vm|base|subvol|basevol)-(\d+)-/.exec(last[i])
    if (m) return Number(m[1])
  }
  const dir = /^(\d+)\//.exec(volname)
  return dir ? Number(dir[1]) : undefined
}

/** Every volume a config (current or snapshot) references. */
export function volumesOfConfig(config: Record<string, unknown>): VolumeRef[] {
  const refs: VolumeRef[] = []
  for (const [key, raw] of Object.entries(config)) {
    if (!VOLUME_KEY.test(key) || typeof raw !== 'string') continue
    const first = raw.split(',')[0]
    const volid = first.includes('=') ? /(?:^|,)(?:file|volume)=([^,]+)/.exec(raw)?.[1] : first
    if (!volid) continue
    const parsed = parseVolid(volid)
    if (!parsed) continue // none, cdrom, /dev/sdX passthrough
    if (/^\d+(\.\d+)?$/.test(parsed.volname)) continue // "local-lvm:32" asks for a new disk; it is not one
    refs.push({
      key,
      volid,
      storage: parsed.storage,
      cdrom: /(?:^|,)media=cdrom(?:,|$)/.test(raw),
      unused: key.startsWith('unused'),
    })
  }
  return refs
}
