#!/usr/bin/env node
// pve:iso:upload: an ISO onto a storage, from a local file (API upload) or a URL (download-url),
// checksum-verified by PVE; on every node that has the storage (once for shared storage).
import { access } from 'node:fs/promises'
import { z } from 'zod'
import { runCommand, dryRunOption, outputOption } from '../lib/cli.ts'
import { openContext } from '../lib/context.ts'
import { NotFoundError, UsageError } from '../lib/errors.ts'
import { info, printOutput, warn } from '../lib/output.ts'
import { listResources } from '../lib/pve/resources.ts'
import { isoTarget, placeIso, sha256File } from '../lib/storage/upload.ts'

await runCommand({
  name: 'pve:iso:upload',
  summary: 'Upload an ISO (FILE=) or have PVE download it (URL=), verified by SHA-256, to every node of the storage',
  details: `URL sources ending in .gz/.zst/.bz2/.lzo are decompressed by PVE; xz is not supported by PVE.
An ISO already on the storage under the same name is left alone.
  task pve:iso:upload URL=https://cdimage.debian.org/.../debian-13.0.0-amd64-netinst.iso SHA256=<sum>
  task pve:iso:upload FILE=./talos-amd64.iso STORAGE=local`,
  options: z.strictObject({
    file: z.string().min(1).optional().describe('local ISO file'),
    url: z.url({ protocol: /^https?$/ }).optional().describe('URL PVE downloads from'),
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits').optional().describe('expected SHA-256 (of the downloaded file for URL=)'),
    storage: z.string().min(1).default('local').describe('storage with ISO content'),
    filename: z.string().min(1).optional().describe('name on the storage (default: from the file or URL)'),
    node: z.array(z.string().min(1)).default([]).describe('only these nodes'),
    dryRun: dryRunOption,
    output: outputOption,
  }),
  async run(opts, cli) {
    if (!!opts.file === !!opts.url) throw new UsageError('give exactly one of --file and --url')
    if (opts.file) await access(opts.file).catch(() => Promise.reject(new NotFoundError(`file ${opts.file} not found`)))
    const { filename, compression } = isoTarget(opts.file ?? opts.url!, opts.filename)
    if (opts.file && compression) throw new UsageError(`${opts.file}: decompress it first; PVE decompresses only downloads`)
    const { config, client } = await openContext(cli)
    const rows = (await listResources(client, 'storage')).filter((s) => s.storage === opts.storage && s.status === 'available')
    if (!rows.length) throw new NotFoundError(`storage '${opts.storage}' is not available on any node`)
    if (!(rows[0].content ?? '').split(',').includes('iso')) throw new UsageError(`storage '${opts.storage}' does not hold ISO content (content: ${rows[0].content})`)
    let nodes = rows.map((r) => r.node ?? '').sort()
    if (opts.node.length) nodes = nodes.filter((n) => opts.node.includes(n))
    if (rows[0].shared === 1) nodes = nodes.slice(0, 1)
    if (!nodes.length) throw new NotFoundError(`storage '${opts.storage}' is not available on ${opts.node.join(', ')}`)
    let sha256 = opts.sha256?.toLowerCase()
    if (opts.file) {
      const actual = await sha256File(opts.file)
      if (sha256 && actual !== sha256) throw new UsageError(`${opts.file}: SHA-256 is ${actual}, not ${sha256}`)
      sha256 = actual
    } else if (!sha256) warn('no --sha256: the download is not verified')
    const source = opts.file ? { file: opts.file, sha256: sha256! } : { url: opts.url!, sha256, compression }
    const results = await placeIso(client, config, { nodes, storage: opts.storage, filename, source, dryRun: opts.dryRun, log: info })
    printOutput(opts.output, results, results, [
      { header: 'node', value: (r) => r.node },
      { header: 'volid', value: (r) => r.volid },
      { header: 'action', value: (r) => r.action },
    ])
  },
})
