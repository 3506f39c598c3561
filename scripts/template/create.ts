#!/usr/bin/env node
// pve:template:create: a VM template from a cloud image (URL + SHA-256), idempotently.
import { z } from 'zod'
import { runCommand, dryRunOption, outputOption, vmidSchema } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { info, printOutput } from '../lib/output.ts'
import { ensureTemplate } from '../lib/template/create.ts'
import { resultColumns } from '../lib/template/present.ts'
import { cloudTemplateParams, describeTemplate } from '../lib/template/spec.ts'

await runCommand({
  name: 'pve:template:create',
  summary: 'Create a VM template from a cloud image (download with checksum, import-from, cloud-init drive)',
  details: `The image is downloaded by PVE into the storage's import content and verified against SHA256;
the template gets the config defaults (bios, machine, scsihw, agent...), a cloud-init drive, the
templates and managed tags, and its source and checksum in the description. Running it again with
the same image changes nothing. With local storage (defaults.storage) every node gets its own copy.
  task pve:template:create URL=https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2 SHA256=<sum> NAME=debian-13`,
  options: z.strictObject({
    url: z.url({ protocol: /^https?$/ }).describe('image URL (qcow2, raw, vmdk or .img)'),
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits').describe('SHA-256 of the image'),
    name: z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/, 'must be a DNS name (letters, digits, hyphens)').describe('template name'),
    vmid: vmidSchema.optional().describe('VMID of the (first) template (default: next free in vmid_ranges.templates)'),
    imageStorage: z.string().min(1).optional().describe('storage with import content for the image (default: first one)'),
    node: z.array(z.string().min(1)).default([]).describe('only these nodes'),
    dryRun: dryRunOption,
    output: outputOption,
  }),
  async run(opts, cli) {
    const { config, client } = await openContext(cli)
    const source = { url: opts.url, sha256: opts.sha256.toLowerCase() }
    const results = await ensureTemplate(
      client,
      config,
      {
        name: opts.name,
        source,
        vmid: opts.vmid,
        imageStorage: opts.imageStorage,
        nodes: opts.node,
        build: (vmid, importVolid) =>
          cloudTemplateParams({
            vmid,
            name: opts.name,
            importVolid,
            defaults: config.defaults,
            tags: [config.tags.templates, config.tags.managed],
            description: describeTemplate(`Cloud image template '${opts.name}', created by proxmox-manager.`, source),
          }),
      },
      { dryRun: opts.dryRun, log: info },
    )
    printOutput(opts.output, results, results, resultColumns)
  },
})
