// SSH side of the simulator: `startNodeSshd(sim, 'pve1')` gives a real sshd on that node's loopback
// address whose qm/pveum/pvesh/wget act on the simulator, as `ssh root@pve1 'qm list'` would.
import { startSshd, type SshServer } from './sshd.ts'

export { startSshd, sshExec, sshArgs, type SshServer, type SshResult, type SimNodeTarget } from './sshd.ts'

/** The part of the simulator's contract the SSH side needs. */
export interface SimulatorEndpoints {
  nodes: { name: string; host: string; url: string }[]
  caFile: string
  rootToken: { id: string; secret: string }
}

export async function startNodeSshd(sim: SimulatorEndpoints, nodeName = sim.nodes[0].name): Promise<SshServer> {
  const node = sim.nodes.find((n) => n.name === nodeName)
  if (!node) throw new Error(`simulator has no node '${nodeName}'`)
  return startSshd({ host: node.host, target: { node: node.name, url: node.url, caFile: sim.caFile, token: sim.rootToken } })
}
