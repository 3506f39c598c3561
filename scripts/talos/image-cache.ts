// talos:image-cache PROFILE=: the image cache for air-gapped nodes (images k8s-bundle + extra list →
// images cache-create), and the configs regenerated with imageCache.localEnabled.
import { z } from 'zod'
import { resolve } from 'node:path'
import { runCommand } from '../lib/cli.ts'
import { info, warn } from '../lib/output.ts'
import { openTalosContext, factoryUrlFrom } from '../lib/talos/context.ts'
import { generateConfigs } from '../lib/talos/configs.ts'
import { buildImageCache, imageList, readImageList } from '../lib/talos/image-cache.ts'
import { exactTalosVersion, normalizeKubernetesVersion } from '../lib/talos/versions.ts'

await runCommand({
  name: 'talos:image-cache',
  summary: 'Build the image cache of an air-gapped Talos cluster and enable imageCache.localEnabled in its configs',
  details: [
    'Images: `talosctl images k8s-bundle --k8s-version <talos.kubernetes_version>` (offline) plus --images-file (one reference',
    'per line, # comments). `talosctl images cache-create` pulls them into <config_dir>/image-cache (OCI layout), built aside',
    'and swapped in; the list is kept in <config_dir>/image-cache.images.txt, and an unchanged list is not pulled again.',
    'Then every node config is regenerated with machine.features.imageCache.localEnabled (so are later talos:config runs).',
    'Next: build the boot image with the cache (Talos imager, image-cache option), make it the template, talosctl get imagecacheconfig.',
  ].join('\n'),
  options: z.strictObject({
    profile: z.string().describe('cluster profile (name in clusters/ or path)'),
    imagesFile: z.string().optional().describe('more images to cache (Flux controllers, CNI, your workloads): one per line'),
    platform: z.string().default('linux/amd64').describe('platform(s) to cache'),
    rebuild: z.boolean().default(false).describe('pull again even when the list did not change'),
    configs: z.boolean().default(true).describe('regenerate the node configs with localEnabled (--no-configs: only the cache)'),
    listOnly: z.boolean().default(false).describe('print the image list and stop (nothing pulled)'),
    factory: z.url().optional().describe('Image Factory URL for the installer image of the configs'),
  }),
  async run(opts, cli) {
    const { config, profile, paths, talosctl } = await openTalosContext(cli, opts.profile)
    const talosVersion = exactTalosVersion(profile)
    const extra = opts.imagesFile ? await readImageList(resolve(opts.imagesFile)) : []
    const plan = await imageList(talosctl, normalizeKubernetesVersion(profile.talos!.kubernetes_version), extra, talosVersion)
    if (plan.clientVersion) warn(`the bundle's etcd, CoreDNS and Flannel versions are those of talosctl ${plan.clientVersion}, not of ${talosVersion}: use talosctl ${talosVersion} for an exact list`)
    if (opts.listOnly) {
      process.stdout.write(plan.images.join('\n') + '\n')
      return
    }
    info(`caching ${plan.images.length} image(s) for ${profile.name} (Kubernetes ${profile.talos!.kubernetes_version}${extra.length ? `, ${extra.length} from ${opts.imagesFile}` : ''})`)
    const r = await buildImageCache(talosctl, paths, plan.images, { rebuild: opts.rebuild, platform: opts.platform })
    info(r.upToDate ? `${r.dir} is up to date (same list: ${r.listFile})` : `image cache written to ${r.dir} (list: ${r.listFile})`)
    if (opts.configs) {
      const g = await generateConfigs(profile, talosctl, { factoryUrl: factoryUrlFrom(opts.factory), nameservers: config.cloudinit.nameservers, imageCache: true, onProgress: info })
      info(`${g.nodes.length} node config(s) now set machine.features.imageCache.localEnabled`)
    }
    process.stdout.write(r.dir + '\n')
  },
})
