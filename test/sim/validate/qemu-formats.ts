// QEMU VM config keys (qemu-server's $confdesc) and their property-string formats: drives, net,
// memory, agent, vga, machine... Shared by create, config PUT/POST and the conformance check.
import { alias, bool, en, int, num, opt, str, type ParamSchema, type PropertyFormat } from './schema.ts'

const throttle: PropertyFormat = {
  bps: opt(int()), bps_max_length: opt(int({ minimum: 1 })),
  bps_rd: opt(int()), bps_rd_length: alias('bps_rd_max_length'), bps_rd_max_length: opt(int({ minimum: 1 })),
  bps_wr: opt(int()), bps_wr_length: alias('bps_wr_max_length'), bps_wr_max_length: opt(int({ minimum: 1 })),
  iops: opt(int()), iops_max: opt(int()), iops_max_length: opt(int({ minimum: 1 })),
  iops_rd: opt(int()), iops_rd_length: alias('iops_rd_max_length'), iops_rd_max: opt(int()), iops_rd_max_length: opt(int({ minimum: 1 })),
  iops_wr: opt(int()), iops_wr_length: alias('iops_wr_max_length'), iops_wr_max: opt(int()), iops_wr_max_length: opt(int({ minimum: 1 })),
  mbps: opt(num()), mbps_max: opt(num()), mbps_rd: opt(num()), mbps_rd_max: opt(num()), mbps_wr: opt(num()), mbps_wr_max: opt(num()),
}
const imageFormats = ['raw', 'qcow', 'qed', 'qcow2', 'vmdk', 'cloop']
const volume: PropertyFormat = {
  file: str({ format: 'pve-volume-id-or-qm-path', default_key: 1 }),
  volume: alias('file'),
  size: opt(str({ format: 'disk-size' })),
  'import-from': opt(str({ format: 'pve-volume-id-or-absolute-path' })),
}
const drive: PropertyFormat = {
  ...volume,
  ...throttle,
  aio: opt(en(['native', 'threads', 'io_uring'])),
  backup: opt(bool()),
  cache: opt(en(['none', 'writethrough', 'writeback', 'unsafe', 'directsync'])),
  detect_zeroes: opt(bool()),
  discard: opt(en(['ignore', 'on'])),
  format: opt(en(imageFormats)),
  media: opt(en(['cdrom', 'disk'])),
  replicate: opt(bool()),
  rerror: opt(en(['ignore', 'report', 'stop'])),
  serial: opt(str({ format: 'urlencoded', maxLength: 60 })),
  shared: opt(bool()),
  snapshot: opt(bool()),
  werror: opt(en(['enospc', 'ignore', 'report', 'stop'])),
}
const wwn = opt(str({ pattern: '(?^:^(0x)[0-9a-fA-F]{16})' }))

export const driveFormats: Record<string, PropertyFormat> = {
  'pve-qm-ide': { ...drive, model: opt(str({ format: 'urlencoded', maxLength: 120 })), ssd: opt(bool()), wwn },
  'pve-qm-sata': { ...drive, ssd: opt(bool()), wwn },
  'pve-qm-scsi': {
    ...drive, iothread: opt(bool()), product: opt(str({ pattern: '[A-Za-z0-9\\-_\\s]{,16}' })), queues: opt(int({ minimum: 2 })),
    ro: opt(bool()), scsiblock: opt(bool()), ssd: opt(bool()), vendor: opt(str({ pattern: '[A-Za-z0-9\\-_\\s]{,8}' })), wwn,
  },
  'pve-qm-virtio': { ...drive, iothread: opt(bool()), ro: opt(bool()) },
  'pve-qm-efidisk': {
    ...volume, efitype: opt(en(['2m', '4m'])), format: opt(en(imageFormats)),
    'ms-cert': opt(en(['2011', '2023', '2023w', '2023k'])), 'pre-enrolled-keys': opt(bool()),
  },
  'pve-qm-tpmstate': { ...volume, format: opt(en(['raw', 'qcow2', 'vmdk'])), version: opt(en(['v1.2', 'v2.0'])) },
  'pve-qm-unused': { file: str({ format: 'pve-volume-id', default_key: 1 }), volume: alias('file') },
}

export const NIC_MODELS = ['e1000', 'e1000-82540em', 'e1000-82544gc', 'e1000-82545em', 'e1000e', 'i82551', 'i82557b', 'i82559er', 'ne2k_isa', 'ne2k_pci', 'pcnet', 'rtl8139', 'virtio', 'vmxnet3']
const vlanList = '(?^:\\d+(?:-\\d+)?(?:;\\d+(?:-\\d+)?)*)'
export const netFormat: PropertyFormat = {
  model: en(NIC_MODELS, { default_key: 1 }),
  macaddr: opt(str({ format: 'mac-addr' })),
  bridge: opt(str({ format: 'pve-bridge-id' })),
  firewall: opt(bool()),
  link_down: opt(bool()),
  mtu: opt(int({ minimum: 1, maximum: 65520 })),
  queues: opt(int({ minimum: 0, maximum: 64 })),
  rate: opt(num({ minimum: 0 })),
  tag: opt(int({ minimum: 1, maximum: 4094 })),
  trunks: opt(str({ pattern: vlanList })),
  ...Object.fromEntries(NIC_MODELS.map((m) => [m, alias('macaddr', 'model')])),
}

const prop = (format: PropertyFormat | string): ParamSchema => opt(str({ format }))

/** Every settable VM config key, as accepted by create and config PUT/POST. */
export const qemuConfigProperties: Record<string, ParamSchema> = {
  acpi: opt(bool()),
  affinity: opt(str({ format: 'pve-cpuset' })),
  agent: prop({ enabled: bool({ default_key: 1 }), 'freeze-fs': opt(bool()), 'freeze-fs-on-backup': alias('freeze-fs'), fstrim_cloned_disks: opt(bool()), 'guest-fsfreeze': alias('freeze-fs'), type: opt(en(['virtio', 'isa'])) }),
  'allow-ksm': opt(bool()),
  'amd-sev': prop('pve-qemu-sev-fmt'),
  arch: opt(en(['x86_64', 'aarch64'])),
  args: opt(str()),
  audio0: prop({ device: en(['ich9-intel-hda', 'intel-hda', 'AC97']), driver: opt(en(['spice', 'none'])) }),
  autostart: opt(bool()),
  balloon: opt(int({ minimum: 0 })),
  bios: opt(en(['seabios', 'ovmf'])),
  boot: prop('pve-qm-boot'),
  bootdisk: opt(str({ format: 'pve-qm-bootdisk', pattern: '(ide|sata|scsi|virtio)\\d+' })),
  cdrom: prop('pve-qm-ide'),
  cicustom: prop('pve-qm-cicustom'),
  cipassword: opt(str()),
  citype: opt(en(['configdrive2', 'nocloud', 'opennebula'])),
  ciupgrade: opt(bool()),
  ciuser: opt(str()),
  cores: opt(int({ minimum: 1 })),
  cpu: prop('pve-vm-cpu-conf'),
  cpulimit: opt(num({ minimum: 0, maximum: 128 })),
  cpuunits: opt(int({ minimum: 1, maximum: 262144 })),
  description: opt(str({ maxLength: 8192 })),
  efidisk0: prop('pve-qm-efidisk'),
  freeze: opt(bool()),
  hookscript: prop('pve-volume-id'),
  'hostpci[n]': prop('pve-qm-hostpci'),
  hotplug: prop('pve-hotplug-features'),
  hugepages: opt(en(['any', '2', '1024'])),
  'ide[n]': prop('pve-qm-ide'),
  'intel-tdx': prop('pve-qemu-tdx-fmt'),
  'ipconfig[n]': prop('pve-qm-ipconfig'),
  ivshmem: prop({ name: opt(str({ pattern: '[a-zA-Z0-9\\-]+' })), size: int({ minimum: 1 }) }),
  keephugepages: opt(bool()),
  keyboard: opt(en(['de', 'de-ch', 'da', 'en-gb', 'en-us', 'es', 'fi', 'fr', 'fr-be', 'fr-ca', 'fr-ch', 'hu', 'is', 'it', 'ja', 'lt', 'mk', 'nl', 'no', 'pl', 'pt', 'pt-br', 'sv', 'sl', 'tr'])),
  kvm: opt(bool()),
  localtime: opt(bool()),
  lock: opt(en(['backup', 'clone', 'create', 'migrate', 'rollback', 'snapshot', 'snapshot-delete', 'suspending', 'suspended'])),
  machine: prop({
    type: opt(str({ pattern: '(pc|pc(-i440fx)?-\\d+(\\.\\d+)+(\\+pve\\d+)?(\\.pxe)?|q35|pc-q35-\\d+(\\.\\d+)+(\\+pve\\d+)?(\\.pxe)?|virt(?:-\\d+(\\.\\d+)+)?(\\+pve\\d+)?)', maxLength: 40, default_key: 1 })),
    'aw-bits': opt(num({ minimum: 32, maximum: 64 })), 'enable-s3': opt(bool()), 'enable-s4': opt(bool()), viommu: opt(en(['intel', 'virtio'])),
  }),
  memory: prop({ current: int({ minimum: 16, default_key: 1 }) }),
  migrate_downtime: opt(num({ minimum: 0 })),
  migrate_speed: opt(int({ minimum: 0 })),
  name: opt(str({ format: 'dns-name' })),
  nameserver: opt(str({ format: 'address-list' })),
  'net[n]': prop(netFormat),
  numa: opt(bool()),
  'numa[n]': prop({ cpus: str({ pattern: vlanList }), hostnodes: opt(str({ pattern: vlanList })), memory: opt(num()), policy: opt(en(['preferred', 'bind', 'interleave'])) }),
  onboot: opt(bool()),
  ostype: opt(en(['other', 'wxp', 'w2k', 'w2k3', 'w2k8', 'wvista', 'win7', 'win8', 'win10', 'win11', 'l24', 'l26', 'solaris'])),
  'parallel[n]': opt(str({ pattern: '/dev/parport\\d+|/dev/usb/lp\\d+' })),
  protection: opt(bool()),
  reboot: opt(bool()),
  rng0: prop('pve-qm-rng'),
  'sata[n]': prop('pve-qm-sata'),
  'scsi[n]': prop('pve-qm-scsi'),
  scsihw: opt(en(['lsi', 'lsi53c810', 'virtio-scsi-pci', 'virtio-scsi-single', 'megasas', 'pvscsi'])),
  searchdomain: opt(str()),
  'serial[n]': opt(str({ pattern: '(/dev/[^,]+|socket)' })),
  shares: opt(int({ minimum: 0, maximum: 50000 })),
  smbios1: opt(str({ format: 'pve-qm-smbios1', maxLength: 512 })),
  smp: opt(int({ minimum: 1 })),
  sockets: opt(int({ minimum: 1 })),
  spice_enhancements: prop({ foldersharing: opt(bool()), videostreaming: opt(en(['off', 'all', 'filter'])) }),
  sshkeys: prop('urlencoded'),
  startdate: opt(str({ pattern: '(now|\\d{4}-\\d{1,2}-\\d{1,2}(T\\d{1,2}:\\d{1,2}:\\d{1,2})?)' })),
  startup: prop('pve-startup-order'),
  tablet: opt(bool()),
  tags: prop('pve-tag-list'),
  tdf: opt(bool()),
  template: opt(bool()),
  tpmstate0: prop('pve-qm-tpmstate'),
  'unused[n]': prop('pve-qm-unused'),
  'usb[n]': prop({
    host: opt(str({ pattern: '(?^:(?:(?:(?^:(0x)?([0-9A-Fa-f]{4}):(0x)?([0-9A-Fa-f]{4})))|(?:(?^:(\\d+)\\-(\\d+(\\.\\d+)*)))|[Ss][Pp][Ii][Cc][Ee]))', default_key: 1 })),
    mapping: opt(str({ format: 'pve-configid' })), usb3: opt(bool()),
  }),
  vcpus: opt(int({ minimum: 1 })),
  vga: prop({ type: opt(en(['cirrus', 'qxl', 'qxl2', 'qxl3', 'qxl4', 'none', 'serial0', 'serial1', 'serial2', 'serial3', 'std', 'virtio', 'virtio-gl', 'vmware'], { default_key: 1 })), clipboard: opt(en(['vnc'])), memory: opt(int({ minimum: 4, maximum: 512 })) }),
  'virtio[n]': prop('pve-qm-virtio'),
  'virtiofs[n]': prop({ dirid: str({ format: 'pve-configid', default_key: 1 }), cache: opt(en(['auto', 'always', 'metadata', 'never'])), 'direct-io': opt(bool()), 'expose-acl': opt(bool()), 'expose-xattr': opt(bool()) }),
  vmgenid: opt(str({ pattern: '(?:[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}|[01])' })),
  vmstatestorage: opt(str({ format: 'pve-storage-id' })),
  watchdog: prop('pve-qm-watchdog'),
}

/** Drive keys: `scsi0`, `virtio3`, `efidisk0`... (not `unusedN`). */
export const DRIVE_KEY_RE = /^(ide|sata|scsi|virtio)\d+$|^(efidisk|tpmstate)0$/

/** The property-string format of a config key, when it has one. */
export function keyFormat(key: string): PropertyFormat | undefined {
  const m = /^([a-z]+?)(\d+)$/.exec(key)
  const family = m ? qemuConfigProperties[`${m[1]}[n]`] : undefined
  const s = qemuConfigProperties[key] ?? family
  if (!s) return undefined
  if (typeof s.format === 'object') return s.format
  if (key === 'efidisk0') return driveFormats['pve-qm-efidisk']
  if (key === 'tpmstate0') return driveFormats['pve-qm-tpmstate']
  if (typeof s.format === 'string') return driveFormats[s.format]
  return undefined
}
