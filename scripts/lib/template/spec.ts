// Template specs: the create parameters for a VM template built from a cloud image or a Talos
// Image Factory image, and the marker recorded in its description (image source and checksum)
// that makes `template:create` idempotent.
import { basename } from 'node:path'

export interface VmDefaults {
  storage: string
  bios: 'seabios' | 'ovmf'
  machine: string
  cpu: string
  scsihw: string
  network_bridge: string
  guest_agent: boolean
  ostype: string
  cores: number
  memory: number
}

export interface ImageSource {
  url: string
  sha256?: string
}

/** What the description records; the same source again means "already done". */
export interface TemplateMarker {
  source: string
  sha256?: string
}

const MARKER_SOURCE = 'pm-image-source:'
const MARKER_SHA = 'pm-image-sha256:'

export function describeTemplate(title: string, src: ImageSource): string {
  return [title, '', `${MARKER_SOURCE} ${src.url}`, ...(src.sha256 ? [`${MARKER_SHA} ${src.sha256.toLowerCase()}`] : [])].join('\n')
}

export function readMarker(description: string | undefined): TemplateMarker | undefined {
  if (!description) return undefined
  const text = decodeDescription(description)
  const source = new RegExp(`^${MARKER_SOURCE}\\s*(\\S+)\\s*$`, 'm').exec(text)?.[1]
  if (!source) return undefined
  const sha256 = new RegExp(`^${MARKER_SHA}\\s*([0-9a-f]{64})\\s*$`, 'mi').exec(text)?.[1]?.toLowerCase()
  return { source, sha256 }
}

/** PVE stores descriptions as comment lines and returns them URL-decoded; tolerate either. */
function decodeDescription(d: string): string {
  if (!/%0A|%3A/i.test(d)) return d
  try {
    return decodeURIComponent(d)
  } catch {
    return d
  }
}

/** Same image: same source URL and the same checksum (or none recorded on either side). */
export function sameImage(marker: TemplateMarker | undefined, src: ImageSource): boolean {
  return !!marker && marker.source === src.url && (marker.sha256 ?? '') === (src.sha256?.toLowerCase() ?? '')
}

// PVE accepts only these extensions for `import` content (PVE::Storage IMPORT_EXT_RE_1), and
// download-url decompresses only into `iso` content ("decompression not supported for import").
const IMPORT_EXT = /\.(qcow2|raw|vmdk|ova)$/i

/**
 * The file name the image gets in the import content: prefixed with the checksum (or a hash of the
 * URL) so two different images never share a name, and with an extension PVE accepts. `.img`
 * cloud images (Ubuntu's) are qcow2 inside; compressed images cannot be imported directly.
 */
export function importFilename(src: ImageSource, urlHash: string): string {
  const path = new URL(src.url).pathname
  let name = basename(path).replace(/[^a-zA-Z0-9\-.+=_]/g, '_')
  if (/\.(xz|gz|zst|bz2|lzo)$/i.test(name))
    throw new Error(`${name}: compressed images cannot be imported (PVE decompresses downloads only for ISO content); use the uncompressed or .qcow2 form of the image`)
  if (/\.img$/i.test(name)) name = name.replace(/\.img$/i, '.qcow2')
  else if (!IMPORT_EXT.test(name)) name += '.qcow2'
  const prefix = (src.sha256 ?? urlHash).toLowerCase().slice(0, 12)
  return `${prefix}-${name}`.slice(-200)
}

export interface TemplateParams {
  [key: string]: string | number
}

export interface CloudTemplateInput {
  vmid: number
  name: string
  importVolid: string // storage:import/<file>
  defaults: VmDefaults
  tags: string[]
  description: string
}

/** Create parameters for a cloud-image template: imported boot disk, cloud-init drive, serial console. */
export function cloudTemplateParams(i: CloudTemplateInput): TemplateParams {
  const d = i.defaults
  return {
    vmid: i.vmid,
    name: i.name,
    description: i.description,
    tags: i.tags.join(';'),
    ostype: d.ostype,
    machine: d.machine,
    bios: d.bios,
    cpu: d.cpu,
    cores: d.cores,
    memory: d.memory,
    scsihw: d.scsihw,
    net0: `virtio,bridge=${d.network_bridge}`,
    scsi0: `${d.storage}:0,import-from=${i.importVolid},discard=on`,
    ide2: `${d.storage}:cloudinit`,
    boot: 'order=scsi0',
    // cloud images log to the serial console and often have no VGA driver configured
    serial0: 'socket',
    vga: 'serial0',
    agent: d.guest_agent ? 'enabled=1' : 'enabled=0',
    ...(d.bios === 'ovmf' ? { efidisk0: `${d.storage}:1,efitype=4m,pre-enrolled-keys=0` } : {}),
  }
}

export interface TalosTemplateInput {
  vmid: number
  name: string
  importVolid: string
  defaults: VmDefaults
  tags: string[]
  description: string
  /** the schematic includes siderolabs/qemu-guest-agent */
  guestAgent: boolean
}

/**
 * Create parameters for a Talos template: UEFI (OVMF + EFI disk), q35, VirtIO SCSI on one
 * controller ("single" would give each disk its own controller and change Talos' disk naming),
 * no cloud-init user data (Talos takes its machine config from talosctl apply-config), and the
 * guest agent only when the image carries the agent extension (otherwise PVE waits on an agent
 * that never answers, e.g. at shutdown).
 */
export function talosTemplateParams(i: TalosTemplateInput): TemplateParams {
  const d = i.defaults
  return {
    vmid: i.vmid,
    name: i.name,
    description: i.description,
    tags: i.tags.join(';'),
    ostype: 'l26',
    machine: 'q35',
    bios: 'ovmf',
    efidisk0: `${d.storage}:1,efitype=4m,pre-enrolled-keys=0`,
    cpu: d.cpu,
    cores: d.cores,
    memory: d.memory,
    scsihw: 'virtio-scsi-pci',
    net0: `virtio,bridge=${d.network_bridge}`,
    scsi0: `${d.storage}:0,import-from=${i.importVolid},discard=on`,
    boot: 'order=scsi0',
    agent: i.guestAgent ? 'enabled=1' : 'enabled=0',
  }
}

export const TALOS_AGENT_EXTENSION = 'siderolabs/qemu-guest-agent'

/**
 * The Image Factory nocloud disk image. The factory serves .raw.xz, .raw.zst and .qcow2; PVE
 * cannot decompress xz at all, and decompresses zst/gz only into ISO content, which import-from
 * refuses. qcow2 needs no decompression and is accepted by the import content type.
 */
export function talosImageUrl(schematic: string, version: string, arch = 'amd64'): string {
  const v = version.startsWith('v') ? version : `v${version}`
  return `https://factory.talos.dev/image/${schematic}/${v}/nocloud-${arch}.qcow2`
}

/** Storage decides where templates live: shared → one template for the cluster, local → one per node. */
export function templateNodes(storageShared: boolean, onlineNodes: string[]): string[] {
  const sorted = [...onlineNodes].sort()
  return storageShared ? sorted.slice(0, 1) : sorted
}
