// Storage views: /cluster/resources lists one row per node for every storage, shared ones included.

export interface StorageRow {
  node: string // a node name; in the cluster summary, the nodes joined with ','
  storage: string
  type: string
  content: string[]
  shared: boolean
  status: string
  used: number
  total: number
}

/** One row per storage: shared storages once (same pool everywhere), local ones summed over nodes. */
export function summarizeStorages(rows: StorageRow[]): StorageRow[] {
  const byId = new Map<string, StorageRow[]>()
  for (const r of rows) byId.set(r.storage, [...(byId.get(r.storage) ?? []), r])
  return [...byId.entries()]
    .map(([storage, list]) => {
      const available = list.filter((r) => r.status === 'available')
      const counted = list[0].shared ? available.slice(0, 1) : available
      return {
        node: list.map((r) => r.node).sort().join(','),
        storage,
        type: list[0].type,
        content: list[0].content,
        shared: list[0].shared,
        status: available.length === list.length ? 'available' : `${available.length}/${list.length} available`,
        used: counted.reduce((s, r) => s + r.used, 0),
        total: counted.reduce((s, r) => s + r.total, 0),
      }
    })
    .sort((a, b) => a.storage.localeCompare(b.storage))
}
