// `ha-manager` on a simulated PVE node: the one thing the API cannot do, node maintenance
// (`ha-manager crm-command node-maintenance enable|disable <node>`). Like the real command it
// only queues the request for the CRM and prints nothing; the simulator's CRM then moves the HA
// guests off the node (and, on disable, back to it). Failures exit 255 with PVE's texts.
import { ApiCallError, SimApi } from './api.ts'

const usage = `USAGE: ha-manager crm-command node-maintenance <enable|disable> <node>\n`

async function main(argv: string[]): Promise<number> {
  const [group, command, action, node, ...rest] = argv
  if (group !== 'crm-command' || command !== 'node-maintenance' || !['enable', 'disable'].includes(action ?? '') || !node || rest.length) {
    process.stderr.write(`400 unable to parse command\n${usage}`)
    return 255
  }
  const api = new SimApi()
  try {
    const members = await api.call<{ node: string }[]>('GET', '/nodes')
    if (!members.some((m) => m.node === node)) {
      process.stderr.write(`no such cluster node '${node}'\n`)
      return 255
    }
    await api.control('setNode', node, { maintenance: action === 'enable' })
    return 0
  } catch (e) {
    if (!(e instanceof ApiCallError)) throw e
    process.stderr.write(e.message.endsWith('\n') ? e.message : `${e.message}\n`)
    return 255
  } finally {
    await api.close()
  }
}

process.exitCode = await main(process.argv.slice(2))
