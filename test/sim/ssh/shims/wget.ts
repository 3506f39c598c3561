// `wget -O <storage dir>/<file> <url>` on a simulated PVE node: the download lands in that storage
// through the node's `download-url` API (the simulator fetches the URL), the way a file saved into
// /var/lib/vz/template/iso/ becomes `local:iso/<file>` on a real node. Exit codes follow wget(1):
// 1 generic, 2 usage, 3 file I/O, 8 server error response.
import { ApiCallError, SimApi, followTask } from './api.ts'
import type { Context } from './cli.ts'
import { resolveNodePath } from './paths.ts'

const usage = 'Usage: wget [OPTION]... [URL]...\n\nTry `wget --help\' for more options.\n'

async function main(argv: string[]): Promise<number> {
  let quiet = false
  let output: string | undefined
  const urls: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '-q' || a === '--quiet' || a === '-nv' || a === '--no-verbose') quiet ||= a === '-q' || a === '--quiet'
    else if (a === '-O') output = argv[++i]
    else if (a.startsWith('-O')) output = a.slice(2)
    else if (a.startsWith('--output-document=')) output = a.slice('--output-document='.length)
    else if (a.startsWith('-')) {
      process.stderr.write(`wget: unrecognized option '${a}'\n${usage}`)
      return 2
    } else urls.push(a)
  }
  if (!urls.length) {
    process.stderr.write(`wget: missing URL\n${usage}`)
    return 1
  }
  if (urls.length > 1 || !output) {
    process.stderr.write('wget: this node only downloads one URL into a storage directory: wget -O <path> <url>\n')
    return 1
  }
  const api = new SimApi()
  const ctx = { api, node: api.node, call: (m: string, p: string, params?: Record<string, unknown>) => api.call(m, p, params) } as unknown as Context
  try {
    const target = await resolveNodePath(ctx, output)
    if (!target || !['iso', 'vztmpl', 'import'].includes(target.content)) {
      process.stderr.write(`${output}: No such file or directory\n`)
      return 3
    }
    if (!quiet) process.stderr.write(`--${new Date().toISOString().replace('T', ' ').slice(0, 19)}--  ${urls[0]}\nSaving to: '${output}'\n`)
    const upid = await api.call<string>('POST', `/nodes/${api.node}/storage/${target.storage}/download-url`, { url: urls[0], content: target.content, filename: target.filename })
    const log: string[] = []
    const outcome = await followTask(api, upid, (line) => log.push(line))
    if (!outcome.ok) {
      process.stderr.write(`${log.join('')}ERROR: ${outcome.exitstatus}\n`)
      return 8
    }
    if (!quiet) process.stderr.write(`'${output}' saved\n`)
    return 0
  } catch (e) {
    if (!(e instanceof ApiCallError)) throw e
    process.stderr.write(`wget: ${e.message.trimEnd()}\n`)
    return e.status === 400 ? 2 : 8
  } finally {
    await api.close()
  }
}

process.exitCode = await main(process.argv.slice(2))
