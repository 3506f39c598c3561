#!/usr/bin/env node
// pve:template:create:talos: a Talos template from the Image Factory's nocloud image, idempotently.
import { z } from 'zod'
import { runCommand, dryRunOption, outputOption, vmidSchema } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { info, printOutput } from '../lib/output.ts'
import { ensureTemplate } from '../lib/template/create.ts'
import { resultColumns } from '../lib/template/present.ts'
import { describeTemplate, TALOS_AGENT_EXTENSION, talosImageUrl, talosTemplateParams } from '../lib/template/spec.ts'

/** The factory's schematic without customisations. */
const VANILLA_SCHEMATIC = '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba'

await runCommand({
  name: 'pve:template:create:talos',
  summary: 'Create a Talos template from the Image Factory nocloud image (UEFI, q35, VirtIO SCSI, agent per schematic)',
  details: `The factory's qcow2 image is used: PVE cannot decompress the .raw.xz image and decompresses
nothing into import content. No cloud-init user data: Talos takes its config from talosctl.
The QEMU guest agent is enabled only when the schematic has ${TALOS_AGENT_EXTENSION} (--extensions).
  task pve:template:create:talos VERSION=v1.10.0 SCHEMATIC=<id> -- --extensions ${TALOS_AGENT_EXTENSION}`,
  options: z.strictObject({
    version: z.string().regex(/^v?\d+\.\d+\.\d+(-[\w.]+)?$/, 'must be a Talos version such as v1.10.0').describe('Talos version'),
    schematic: z.string().regex(/^[0-9a-f]{64}$/, 'must be a 64-hex-digit schematic id').default(VANILLA_SCHEMATIC).describe('Image Factory schematic id'),
    extensions: z.array(z.string().min(1)).default([]).describe('system extensions the schematic contains (decides the guest agent)'),
    name: z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/, 'must be a DNS name').optional().describe('template name (default: talos-<version>-<schematic prefix>)'),
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits').optional().describe('SHA-256 of the qcow2 image, if known'),
    vmid: vmidSchema.optional().describe('VMID of the (first) template'),
    imageStorage: z.string().min(1).optional().describe('storage with import content for the image'),
    node: z.array(z.string().min(1)).default([]).describe('only these nodes'),
    dryRun: dryRunOption,
    output: outputOption,
  }),
  async run(opts, cli) {
    const { config, client } = await openContext(cli)
    const version = opts.version.startsWith('v') ? opts.version : `v${opts.version}`
    const name = opts.name ?? `talos-${version}-${opts.schematic.slice(0, 8)}`
    const source = { url: talosImageUrl(opts.schematic, version), sha256: opts.sha256?.toLowerCase() }
    const guestAgent = opts.extensions.includes(TALOS_AGENT_EXTENSION)
    if (!guestAgent) info(`the schematic has no ${TALOS_AGENT_EXTENSION}: the guest agent stays off`)
    const results = await ensureTemplate(
      client,
      config,
      {
        name,
        source,
        vmid: opts.vmid,
        imageStorage: opts.imageStorage,
        nodes: opts.node,
        build: (vmid, importVolid) =>
          talosTemplateParams({
            vmid,
            name,
            importVolid,
            defaults: config.defaults,
            tags: [config.tags.templates, config.tags.managed, 'talos'],
            description: describeTemplate(`Talos ${version} (schematic ${opts.schematic}${opts.extensions.length ? `: ${opts.extensions.join(', ')}` : ''}), created by proxmox-manager.`, source),
            guestAgent,
          }),
      },
      { dryRun: opts.dryRun, log: info },
    )
    printOutput(opts.output, results, results, resultColumns)
  },
})
