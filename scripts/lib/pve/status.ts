// The cluster at a glance: name, quorum, membership (GET /cluster/status) and each node's load
// (GET /cluster/resources?type=node), in one structure for table, JSON and YAML output.
import type { PveClient } from './client.ts'
import { listNodes } from './resources.ts'

interface ClusterStatusEntry {
  type: 'cluster' | 'node'
  id: string
  name: string
  // type cluster
  quorate?: 0 | 1
  nodes?: number
  version?: number
  // type node
  online?: 0 | 1
  local?: 0 | 1
  ip?: string
  nodeid?: number
}

export interface NodeStatus {
  node: string
  online: boolean
  ip?: string
  cpu: number
  maxcpu: number
  mem: number
  maxmem: number
  uptime: number
}

export interface ClusterStatus {
  /** null for a standalone node (no corosync cluster) */
  cluster: { name: string; quorate: boolean; nodes: number } | null
  nodesOnline: number
  nodes: NodeStatus[]
}

export async function clusterStatus(client: PveClient): Promise<ClusterStatus> {
  const [entries, resources] = await Promise.all([client.get<ClusterStatusEntry[]>('/cluster/status'), listNodes(client)])
  const cluster = entries.find((e) => e.type === 'cluster')
  const members = entries.filter((e) => e.type === 'node')
  const names = new Set([...members.map((m) => m.name), ...resources.map((r) => r.node)])
  const nodes = [...names].sort().map((name) => {
    const m = members.find((e) => e.name === name)
    const r = resources.find((e) => e.node === name)
    return {
      node: name,
      online: m ? m.online === 1 : r?.status === 'online',
      ip: m?.ip,
      cpu: r?.cpu ?? 0,
      maxcpu: r?.maxcpu ?? 0,
      mem: r?.mem ?? 0,
      maxmem: r?.maxmem ?? 0,
      uptime: r?.uptime ?? 0,
    }
  })
  return {
    cluster: cluster ? { name: cluster.name, quorate: cluster.quorate === 1, nodes: cluster.nodes ?? members.length } : null,
    nodesOnline: nodes.filter((n) => n.online).length,
    nodes,
  }
}
