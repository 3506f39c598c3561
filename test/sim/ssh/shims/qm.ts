// `qm` on a simulated PVE node: PVE::CLI::qm's commands, each mapped onto the API method the real
// CLI calls in-process (same options, same output, same errors), plus the few commands qm
// implements itself (status, unlock, wait, disk import) rebuilt from API calls.
import { apiCommand, PveError, runCli, type Command, type Context, type Params, type Tree } from './cli.ts'
import { resolveNodePath, rewriteImportPaths } from './paths.ts'

const G = 'PVE::API2::Qemu'
const L = 'PVE::CLI::qm'
const node = process.env.PVE_SIM_NODE ?? 'localhost'
const fixed = { node }
const vm = '/nodes/{node}/qemu/{vmid}'

/** PVE::Tools::encode_text: the description is printed on one line. */
const encodeText = (text: string) =>
  [...text].map((c) => (c === '%' || c === ':' || c === '=' || c.charCodeAt(0) < 0x20 ? `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}` : c)).join('')

const task = (method: string, path: string, args: string[], prepare?: (ctx: Context, p: Params) => Promise<void>) =>
  apiCommand(method, path, args, { fixed, group: G, waitTask: 'exit', prepare })

function pad(s: string, width: number, right = false): string {
  return right ? s.padStart(width) : s.padEnd(width)
}

const vmidParam = { type: 'integer', format: 'pve-vmid' } as const

async function loadConfig(ctx: Context, vmid: number | string): Promise<Record<string, unknown>> {
  return (await ctx.call('GET', `/nodes/${ctx.node}/qemu/${vmid}/config`)) as Record<string, unknown>
}

const driveName = /^(ide[0-3]|sata[0-5]|scsi([0-9]|[1-2][0-9]|30)|virtio([0-9]|1[0-5])|efidisk0|tpmstate0)$/

function printSnapshotTree(ctx: Context, list: { name: string; parent?: string; snaptime?: number; description?: string }[]) {
  const byName = new Map(list.map((s) => [s.name, { ...s, children: [] as string[] }]))
  const roots: string[] = []
  for (const s of list) {
    if (s.parent !== undefined && byName.has(s.parent)) byName.get(s.parent)!.children.push(s.name)
    else roots.push(s.name)
  }
  const order = (names: string[]) =>
    names.sort((a, b) => {
      const ta = byName.get(a)!.snaptime
      const tb = byName.get(b)!.snaptime
      if (ta === undefined) return 1
      if (tb === undefined) return -1
      return ta - tb
    })
  const maxlen = Math.max(1, ...list.map((s) => s.name.length))
  const stamp = (t?: number) => {
    if (t === undefined) return ''
    const d = new Date(t * 1000)
    const p = (n: number) => String(n).padStart(2, '0')
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
  }
  const print = (name: string, depth: number) => {
    const s = byName.get(name)!
    const description = (s.description ?? '').split('\n')[0]
    ctx.out(`${'  '.repeat(depth)}\`-> ${pad(name, maxlen)} ${pad(stamp(s.snaptime), 19)}     ${description}`.trimEnd() + '\n')
    for (const child of order(s.children)) print(child, depth + 1)
  }
  for (const r of order(roots)) print(r, 0)
}

const importdisk: Command = {
  group: L,
  args: ['vmid', 'source', 'storage'],
  params: {
    vmid: vmidParam,
    source: { type: 'string' },
    storage: { type: 'string', format: 'pve-storage-id' },
    format: { type: 'string', enum: ['raw', 'qcow2', 'vmdk'], optional: 1 },
    'target-disk': { type: 'string', optional: 1 },
  },
  async run(ctx, p) {
    const { vmid, source, storage } = p as { vmid: string; source: string; storage: string }
    const format = p.format as string | undefined
    let target = p['target-disk'] as string | undefined
    if (target && !driveName.test(target)) target = undefined // unusedN: imported as unused below
    const conf = await loadConfig(ctx, vmid)
    if (conf.lock) throw new PveError(`VM is locked (${conf.lock})\n`)
    const volume = await resolveNodePath(ctx, source)
    if (!volume?.exists) throw new PveError(`${source}: non-existent or non-regular file\n`)
    const storages = (await ctx.call('GET', '/storage')) as { storage: string; content?: string; disable?: number }[]
    const store = storages.find((s) => s.storage === storage)
    if (!store) throw new PveError(`storage '${storage}' does not exist\n`)
    if (store.disable) throw new PveError(`storage '${storage}' is disabled\n`)
    if (!(store.content ?? '').split(',').includes('images')) throw new PveError(`storage ${storage} does not support vm images\n`)
    ctx.out(`importing disk '${source}' to VM ${vmid} ...\n`)
    // Without a target drive qm adds the new volume as unusedN: import into a free slot, then
    // detach it (a detached disk becomes unusedN, as in PVE).
    const slot = target ?? [...Array(31).keys()].map((i) => `scsi${30 - i}`).find((k) => conf[k] === undefined)
    if (!slot) throw new PveError('no free drive slot to import into\n')
    if (target && conf[target] !== undefined) throw new PveError(`cowardly refusing to overwrite existing entry: ${target}\n`)
    const spec = `${storage}:0,import-from=${volume.importFrom}${format ? `,format=${format}` : ''}`
    await ctx.call('PUT', `/nodes/${ctx.node}/qemu/${vmid}/config`, { [slot]: spec })
    let drive = slot
    let after = await loadConfig(ctx, vmid)
    if (!target) {
      const volid = String(after[slot]).split(',')[0]
      await ctx.call('PUT', `/nodes/${ctx.node}/qemu/${vmid}/config`, { delete: slot })
      after = await loadConfig(ctx, vmid)
      drive = Object.keys(after).find((k) => /^unused\d+$/.test(k) && String(after[k]) === volid) ?? slot
    }
    ctx.out(`${drive}: successfully imported disk '${after[drive]}'\n`)
  },
}

const tree: Tree = {
  list: {
    group: G,
    api: { method: 'GET', path: '/nodes/{node}/qemu' },
    args: [],
    fixed,
    async run(ctx, params) {
      const list = (await ctx.call('GET', `/nodes/${ctx.node}/qemu`, { full: params.full })) as Record<string, any>[]
      if (!list.length) return
      ctx.out(`${pad('VMID', 10, true)} ${pad('NAME', 20)} ${pad('STATUS', 10)} ${pad('MEM(MB)', 10)} ${pad('BOOTDISK(GB)', 12, true)} ${pad('PID', 10)}\n`)
      for (const r of [...list].sort((a, b) => a.vmid - b.vmid)) {
        const mem = String((r.maxmem || 0) / (1024 * 1024))
        const disk = ((r.maxdisk || 0) / (1024 * 1024 * 1024)).toFixed(2)
        ctx.out(`${pad(String(r.vmid), 10, true)} ${pad(r.name ?? '', 20)} ${pad(r.qmpstatus || r.status, 10)} ${pad(mem, 10)} ${pad(disk, 12, true)} ${pad(String(r.pid || 0), 10)}\n`)
      }
    },
  },
  create: task('POST', '/nodes/{node}/qemu', ['vmid'], rewriteImportPaths),
  destroy: task('DELETE', vm, ['vmid']),
  clone: task('POST', `${vm}/clone`, ['vmid', 'newid']),
  migrate: task('POST', `${vm}/migrate`, ['vmid', 'target']),
  set: apiCommand('PUT', `${vm}/config`, ['vmid'], { fixed, group: G, prepare: rewriteImportPaths }),
  config: apiCommand('GET', `${vm}/config`, ['vmid'], {
    fixed,
    group: G,
    output(ctx, result) {
      const conf = result as Record<string, unknown>
      for (const k of Object.keys(conf).sort()) {
        if (k === 'digest') continue
        ctx.out(`${k}: ${k === 'description' ? encodeText(String(conf[k])) : conf[k]}\n`)
      }
    },
  }),
  pending: apiCommand('GET', `${vm}/pending`, ['vmid'], {
    fixed,
    group: G,
    output(ctx, result) {
      const items = [...(result as { key: string; value?: unknown; pending?: unknown; delete?: number }[])].sort((a, b) => (a.key < b.key ? -1 : 1))
      for (const item of items) {
        if (item.key === 'digest') continue
        const enc = (v: unknown) => (v === undefined ? undefined : item.key === 'description' ? encodeText(String(v)) : String(v))
        const v = enc(item.value)
        const p = enc(item.pending)
        if (v !== undefined) {
          if (item.delete) ctx.out(`del ${item.key}: ${v}\n`)
          else {
            ctx.out(`cur ${item.key}: ${v}\n`)
            if (p !== undefined) ctx.out(`new ${item.key}: ${p}\n`)
          }
        } else if (p !== undefined) ctx.out(`new ${item.key}: ${p}\n`)
      }
    },
  }),
  status: {
    group: L,
    args: ['vmid'],
    params: { vmid: vmidParam, verbose: { type: 'boolean', optional: 1 } },
    async run(ctx, p) {
      await loadConfig(ctx, p.vmid as string)
      const stat = (await ctx.call('GET', `/nodes/${ctx.node}/qemu/${p.vmid}/status/current`)) as Record<string, unknown>
      if (!p.verbose) {
        ctx.out(`status: ${stat.qmpstatus || 'unknown'}\n`)
        return
      }
      const printRec = (prefix: string, v: unknown, key?: string) => {
        if (v && typeof v === 'object') {
          if (key !== undefined) ctx.out(`${prefix}${key}:\n`)
          if (Array.isArray(v)) for (const item of v) printRec(`\t${prefix}`, item)
          else for (const k of Object.keys(v).sort()) printRec(`\t${prefix}`, (v as Record<string, unknown>)[k], k)
        } else if (v !== undefined && v !== null) ctx.out(key !== undefined ? `${prefix}${key}: ${v}\n` : `${prefix}${v}\n`)
      }
      for (const k of Object.keys(stat).sort()) if (k !== 'cpu' && k !== 'relcpu') printRec('', stat[k], k)
    },
  },
  snapshot: task('POST', `${vm}/snapshot`, ['vmid', 'snapname']),
  delsnapshot: task('DELETE', `${vm}/snapshot/{snapname}`, ['vmid', 'snapname']),
  listsnapshot: apiCommand('GET', `${vm}/snapshot`, ['vmid'], { fixed, group: G, output: (ctx, r) => printSnapshotTree(ctx, r as any) }),
  rollback: task('POST', `${vm}/snapshot/{snapname}/rollback`, ['vmid', 'snapname']),
  template: apiCommand('POST', `${vm}/template`, ['vmid'], { fixed, group: G, waitTask: 'print' }),
  start: task('POST', `${vm}/status/start`, ['vmid']),
  stop: task('POST', `${vm}/status/stop`, ['vmid']),
  reset: task('POST', `${vm}/status/reset`, ['vmid']),
  shutdown: task('POST', `${vm}/status/shutdown`, ['vmid']),
  reboot: task('POST', `${vm}/status/reboot`, ['vmid']),
  suspend: task('POST', `${vm}/status/suspend`, ['vmid']),
  resume: task('POST', `${vm}/status/resume`, ['vmid']),
  unlock: {
    group: L,
    args: ['vmid'],
    params: { vmid: vmidParam },
    async run(ctx, p) {
      // qm runs as root@pam and rewrites the config under its lock; an API token cannot
      // (skiplock is root@pam only), so this goes through the simulator's control API.
      await loadConfig(ctx, p.vmid as string)
      await ctx.api.control('unlock', Number(p.vmid))
    },
  },
  wait: {
    group: L,
    args: ['vmid'],
    params: { vmid: vmidParam, timeout: { type: 'integer', optional: 1 } },
    async run(ctx, p: Params) {
      const status = async () => ((await ctx.call('GET', `/nodes/${ctx.node}/qemu/${p.vmid}/status/current`)) as { status: string; pid?: number })
      const first = await status()
      if (first.status !== 'running') return
      ctx.out(`waiting until VM ${p.vmid} stops (PID ${first.pid ?? 0})\n`)
      const deadline = p.timeout ? Date.now() + Number(p.timeout) * 1000 : Infinity
      while (Date.now() < deadline) {
        if ((await status()).status !== 'running') return
        await new Promise((r) => setTimeout(r, 200))
      }
      if ((await status()).status === 'running') throw new PveError('wait failed - got timeout\n')
    },
  },
  importdisk: { alias: 'disk import' },
  'move-disk': { alias: 'disk move' },
  move_disk: { alias: 'disk move' },
  resize: { alias: 'disk resize' },
  disk: {
    import: importdisk,
    move: task('POST', `${vm}/move_disk`, ['vmid', 'disk', 'storage']),
    resize: apiCommand('PUT', `${vm}/resize`, ['vmid', 'disk', 'size'], { fixed, group: G, waitTask: 'print' }),
  },
  agent: { alias: 'guest cmd' },
  guest: {
    cmd: apiCommand('POST', `${vm}/agent`, ['vmid', 'command'], {
      fixed,
      group: 'PVE::API2::Qemu::Agent',
      output(ctx, data) {
        const result = (data as { result?: unknown } | null)?.result ?? data
        if (result === undefined || result === null) return
        if (typeof result !== 'object') {
          const text = String(result).replace(/\n$/, '')
          if (text.trim()) ctx.out(`${text}\n`)
          return
        }
        if (!Array.isArray(result) && !Object.keys(result).length) return
        ctx.out(JSON.stringify(sortKeys(result), null, 3) + '\n')
      },
    }),
  },
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys)
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]))
  return v
}

process.exitCode = await runCli('qm', tree, process.argv.slice(2))
