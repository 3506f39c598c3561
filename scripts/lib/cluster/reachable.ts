// The "wait until reachable" step of create, after every VM runs and matches the profile and before
// the Talos stage: PVE must report each VM running and, where the VM's guest agent is enabled, the
// agent answering (GET .../agent/network-get-interfaces, read-only) with the profile's address.
// Only the PVE API is asked, never the VMs' addresses themselves: profiles hold real 10.x
// addresses. Talos nodes are checked for 'running' only: their guest agent (an extension) does not
// run in maintenance mode (siderolabs/talos#11651), so it cannot answer before the Talos stage
// applies the configs; that stage waits for the Talos API itself.
import { apiPath, type PveClient } from '../pve/client.ts'
import { ApiError, TaskFailedError } from '../errors.ts'
import { errorText } from '../vm/api.ts'
import { readClusterView } from './live.ts'
import type { ClusterPlan, LiveVm } from './plan.ts'

export interface ReachTarget {
  name: string
  vmid: number
  /** The static address the profile gives the VM (ipconfig0); none with DHCP. */
  ip?: string
  /** The VM's config enables the guest agent. */
  agent: boolean
}

export interface ReachOptions {
  client: PveClient
  cluster: string
  /** Talos nodes: 'running' only (no agent in maintenance mode). */
  talos: boolean
  timeoutMs: number
  pollMs?: number
  signal?: AbortSignal
  onProgress?: (message: string) => void
}

export interface Reachability {
  ok: boolean
  detail: string
}

/** PVE's `agent` property: `[enabled=]<bool>[,fstrim_cloned_disks=..][,type=..]...`. */
export function agentEnabled(value: unknown): boolean {
  return String(value ?? '')
    .split(',')
    .some((part) => /^(enabled=)?(1|on|yes|true)$/i.test(part.trim()))
}

export function reachTargets(plan: ClusterPlan): ReachTarget[] {
  return plan.vms.map((v) => ({ name: v.desired.name, vmid: v.desired.vmid, ip: v.desired.ip, agent: agentEnabled(v.live?.config?.agent) }))
}

type AgentInterfaces = { result?: { 'ip-addresses'?: { 'ip-address': string; 'ip-address-type': string }[] }[] }

const ipv4Of = (answer: AgentInterfaces | undefined): string[] =>
  (answer?.result ?? []).flatMap((i) => (i['ip-addresses'] ?? []).filter((a) => a['ip-address-type'] === 'ipv4').map((a) => a['ip-address'])).filter((a) => !a.startsWith('127.0.0.'))

/** One look at one VM. Throws only when waiting cannot help (the token may not ask the agent). */
export async function probeVm(client: PveClient, target: ReachTarget, vm: LiveVm | undefined, talos: boolean): Promise<Reachability> {
  if (!vm) return { ok: false, detail: 'does not exist' }
  if (vm.status !== 'running') return { ok: false, detail: `${vm.status}, not running` }
  if (talos) return { ok: true, detail: 'running' }
  if (!target.agent) return { ok: true, detail: 'running (no guest agent configured)' }
  let answer: AgentInterfaces
  try {
    answer = await client.get<AgentInterfaces>(apiPath`/nodes/${vm.node}/qemu/${vm.vmid}/agent/network-get-interfaces`)
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) throw err
    const text = errorText(err).split('\n')[0].replace(/^GET \S+: /, '')
    if (/No QEMU guest agent configured/i.test(text)) return { ok: true, detail: 'running (no guest agent configured)' }
    return { ok: false, detail: `running, guest agent not answering (${text})` }
  }
  const ips = ipv4Of(answer)
  if (target.ip && !ips.includes(target.ip)) return { ok: false, detail: `guest agent answers but reports ${ips.join(', ') || 'no IPv4 address'}, not ${target.ip}` }
  return { ok: true, detail: `guest agent answers${ips.length ? ` (${ips.join(', ')})` : ''}` }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true })
  })

/**
 * Polls until every target is reachable; read-only. Past the deadline, a TaskFailedError names each
 * VM that is not, and why (running the command again creates nothing twice and waits again).
 */
export async function waitUntilReachable(targets: ReachTarget[], o: ReachOptions): Promise<string> {
  const deadline = Date.now() + o.timeoutMs
  let delay = o.pollMs ?? 1000
  const done = new Map<string, string>()
  let said = ''
  for (;;) {
    const view = await readClusterView(o.client)
    const waiting: { target: ReachTarget; vm?: LiveVm; detail: string }[] = []
    await Promise.all(
      targets
        .filter((t) => !done.has(t.name))
        .map(async (target) => {
          const vm = view.vms.find((v) => v.vmid === target.vmid)
          const r = await probeVm(o.client, target, vm, o.talos)
          if (r.ok) done.set(target.name, r.detail)
          else waiting.push({ target, vm, detail: r.detail })
        }),
    )
    if (!waiting.length) return summary(targets, done, o.talos)
    waiting.sort((a, b) => a.target.vmid - b.target.vmid)
    const lines = waiting.map((w) => `${w.target.name} (${w.target.vmid}${w.vm ? ` on ${w.vm.node}` : ''}): ${w.detail}`)
    if (Date.now() >= deadline) {
      throw new TaskFailedError(`${waiting.length} of ${targets.length} VMs of ${o.cluster} not reachable within ${Math.round(o.timeoutMs / 1000)} s:\n  ${lines.join('\n  ')}`, {
        hint: 'the VMs are kept: check their consoles (boot, cloud-init network, the qemu-guest-agent package); then run the same command again: it creates nothing twice and waits again (--reach-timeout for longer)',
      })
    }
    const progress = `waiting for ${waiting.length} of ${targets.length} VMs: ${lines.join('; ')}`
    if (progress !== said) o.onProgress?.((said = progress))
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), o.signal)
    delay = Math.min(delay * 1.5, 5000)
  }
}

function summary(targets: ReachTarget[], done: Map<string, string>, talos: boolean): string {
  if (talos) return `All ${targets.length} VMs running (Talos: the guest agent runs only once a node is configured; the Talos stage waits for the Talos API)`
  const withAgent = targets.filter((t) => done.get(t.name)?.startsWith('guest agent answers')).length
  const parts = [withAgent && `${withAgent} with the guest agent answering${targets.some((t) => t.ip) ? ' at the profile\'s address' : ''}`, targets.length - withAgent && `${targets.length - withAgent} running without a guest agent (running is all PVE can tell)`]
  return `All ${targets.length} VMs reachable: ${parts.filter(Boolean).join(', ')}`
}
