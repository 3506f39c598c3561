// The part of the foundation's PveClient the VM operations use. Typed structurally so the pure
// logic can be tested with a stand-in and the real client (scripts/lib/pve/client.ts) fits as is.

export type ApiParams = Record<string, string | number | boolean | undefined>

export interface PveApi {
  get<T = unknown>(path: string, params?: ApiParams): Promise<T>
  post<T = unknown>(path: string, params?: ApiParams): Promise<T>
  put<T = unknown>(path: string, params?: ApiParams): Promise<T>
  delete<T = unknown>(path: string, params?: ApiParams): Promise<T>
}

/** A guest as /cluster/resources?type=vm lists it. */
export interface VmResource {
  id?: string
  vmid: number
  name?: string
  node: string
  type?: string
  status?: string
  template?: number
  tags?: string
  pool?: string
  lock?: string
  maxmem?: number
  maxcpu?: number
  maxdisk?: number
  uptime?: number
}

export const qemuPath = (node: string, vmid: number, rest = '') => `/nodes/${encodeURIComponent(node)}/qemu/${vmid}${rest}`

/** The message of an error, for classification by PVE's texts. */
export const errorText = (err: unknown): string => {
  const e = err as { message?: string; exitStatus?: string; errors?: Record<string, string> }
  return [e?.message, e?.exitStatus, ...Object.values(e?.errors ?? {})].filter(Boolean).join('\n')
}
