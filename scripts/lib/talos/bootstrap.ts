// Bringing configured VMs to a healthy cluster: wait for each node's maintenance API (port 50000),
// apply its config over the insecure API, bootstrap etcd exactly once on the first control plane
// (after checking every control plane's etcd state, and re-checking instead of retrying blindly
// when the call fails or times out), fetch the kubeconfig, and gate on `talosctl health`.
import { chmod, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { Socket } from 'node:net'
import { TaskFailedError } from '../errors.ts'
import type { ClusterPaths } from './secrets.ts'
import type { TalosNode } from './configs.ts'
import { parseEtcdMembers, parseServiceState, toolError, type Talosctl, type EtcdMember } from './talosctl.ts'

export const TALOS_API_PORT = 50000

export interface Timing {
  /** How long nodes may take to answer (maintenance API, or the secure API after a reboot). */
  nodeWaitMs: number
  /** Deadline of one bootstrap call. */
  bootstrapCallMs: number
  /** How long etcd may take to start after bootstrap before it is called again (same node only). */
  etcdStartMs: number
  /** talosctl health --wait-timeout. */
  healthMs: number
  pollMs: number
}

export const DEFAULT_TIMING: Timing = { nodeWaitMs: 10 * 60_000, bootstrapCallMs: 60_000, etcdStartMs: 3 * 60_000, healthMs: 15 * 60_000, pollMs: 5_000 }

/** Simulated nodes answer at once: poll fast. PM_TALOS_POLL_MS / PM_TALOS_NODE_WAIT_MS override (tests). */
export function resolveTiming(sandbox: boolean, timing: Partial<Timing> = {}): Timing {
  const env = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined)
  const merged = { ...DEFAULT_TIMING, ...(sandbox ? { pollMs: 50 } : {}), ...timing }
  return { ...merged, pollMs: env('PM_TALOS_POLL_MS') ?? merged.pollMs, nodeWaitMs: env('PM_TALOS_NODE_WAIT_MS') ?? merged.nodeWaitMs }
}

export interface BootstrapOptions {
  /** Sandbox/tests: nodes are simulated by the talosctl stand-in, so no TCP probe is made. */
  sandbox: boolean
  timing?: Partial<Timing>
  onProgress?: (message: string) => void
  /** Real mode: is the Talos API port open? (a TCP connect; injectable for tests). */
  portOpen?: (ip: string, port: number, timeoutMs: number) => Promise<boolean>
}

export type NodeApiState = 'unreachable' | 'maintenance' | 'configured'

export function tcpPortOpen(ip: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket()
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('error', () => done(false))
    socket.connect(port, ip, () => done(true))
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** What a node answers: the maintenance API (insecure), the secure API, or nothing. */
export async function probeNode(talosctl: Talosctl, node: TalosNode, opts: Pick<BootstrapOptions, 'sandbox' | 'portOpen'>): Promise<NodeApiState> {
  if (!opts.sandbox && !(await (opts.portOpen ?? tcpPortOpen)(node.ip, TALOS_API_PORT, 3_000))) return 'unreachable'
  const insecure = await talosctl.run(['version'], { nodes: [node.ip], insecure: true, nothrow: true, timeoutMs: 20_000 })
  if (insecure.ok) return 'maintenance'
  const secure = await talosctl.run(['version'], { nodes: [node.ip], nothrow: true, timeoutMs: 20_000 })
  return secure.ok ? 'configured' : 'unreachable'
}

export async function waitForState(talosctl: Talosctl, nodes: TalosNode[], wanted: NodeApiState[], what: string, opts: BootstrapOptions, timing: Timing): Promise<Map<string, NodeApiState>> {
  const states = new Map<string, NodeApiState>()
  const deadline = Date.now() + timing.nodeWaitMs
  for (;;) {
    for (const node of nodes) if (!wanted.includes(states.get(node.ip) ?? 'unreachable')) states.set(node.ip, await probeNode(talosctl, node, opts))
    const waiting = nodes.filter((n) => !wanted.includes(states.get(n.ip)!))
    if (!waiting.length) return states
    if (Date.now() >= deadline) {
      throw new TaskFailedError(`timed out waiting for ${what}: ${waiting.map((n) => `${n.name} (${n.ip}: ${states.get(n.ip)})`).join(', ')}`, {
        hint: 'check that the VMs run, boot the Talos image and have their address (talos:discover finds maintenance-mode nodes by MAC)',
      })
    }
    await sleep(timing.pollMs)
  }
}

export interface EtcdState {
  running: boolean
  serviceState?: string
  members: EtcdMember[]
}

export async function etcdState(talosctl: Talosctl, node: TalosNode): Promise<EtcdState> {
  const service = await talosctl.run(['service', 'etcd'], { nodes: [node.ip], nothrow: true, timeoutMs: 30_000 })
  const serviceState = service.ok ? parseServiceState(service.stdout) : undefined
  if (serviceState !== 'Running') return { running: false, serviceState, members: [] }
  const members = await talosctl.run(['etcd', 'members'], { nodes: [node.ip], nothrow: true, timeoutMs: 30_000 })
  return { running: members.ok, serviceState, members: members.ok ? parseEtcdMembers(members.stdout) : [] }
}

/** Is etcd already bootstrapped on any control plane? Then bootstrap must not be called again. */
async function bootstrappedOn(talosctl: Talosctl, controlPlanes: TalosNode[]): Promise<TalosNode | undefined> {
  for (const cp of controlPlanes) {
    const s = await etcdState(talosctl, cp)
    if (s.running && s.members.length > 0) return cp
  }
  return undefined
}

export interface BootstrapResult {
  applied: string[]
  bootstrapped: 'now' | 'already'
  kubeconfig: string
}

export async function bootstrapCluster(nodes: TalosNode[], paths: ClusterPaths, baseTalosctl: Talosctl, opts: BootstrapOptions): Promise<BootstrapResult> {
  const timing = resolveTiming(opts.sandbox, opts.timing)
  const progress = opts.onProgress ?? (() => {})
  const talosctl = baseTalosctl.withTalosconfig(paths.talosconfig)
  const controlPlanes = nodes.filter((n) => n.role === 'controlplane')
  const workers = nodes.filter((n) => n.role === 'worker')
  for (const n of nodes) {
    if (!existsSync(paths.nodeConfig(n.name))) throw new TaskFailedError(`no machine config for ${n.name} at ${paths.nodeConfig(n.name)}`, { hint: 'run talos:config first' })
  }

  progress(`waiting for the Talos API of ${nodes.length} node(s) (maintenance mode on port ${TALOS_API_PORT}${opts.sandbox ? ', simulated' : ''})`)
  const states = await waitForState(talosctl, nodes, ['maintenance', 'configured'], 'the Talos API', opts, timing)

  const applied: string[] = []
  for (const node of nodes) {
    if (states.get(node.ip) === 'configured') {
      progress(`${node.name}: already configured, not applying again`)
      continue
    }
    await talosctl.run(['apply-config', '--file', paths.nodeConfig(node.name)], { nodes: [node.ip], insecure: true, timeoutMs: 120_000 })
    applied.push(node.name)
    progress(`${node.name}: config applied (${node.role}), installing and rebooting`)
  }

  const first = controlPlanes[0]
  await waitForState(talosctl, [first], ['configured'], `${first.name} to come up configured`, opts, timing)
  const bootstrapped = await bootstrapOnce(talosctl, first, controlPlanes, timing, progress)
  await writeFile(paths.bootstrapMarker, JSON.stringify({ node: first.name, ip: first.ip, at: new Date().toISOString() }) + '\n', { mode: 0o600 })

  await talosctl.run(['kubeconfig', paths.kubeconfig, '--force', '--merge=false'], { nodes: [first.ip], timeoutMs: 120_000 })
  await chmod(paths.kubeconfig, 0o600)
  progress(`kubeconfig written to ${paths.kubeconfig}`)

  await waitForState(talosctl, nodes, ['configured'], 'every node to come up configured', opts, timing)
  await health(talosctl, first, controlPlanes, workers, timing.healthMs)
  progress(`cluster healthy: ${controlPlanes.length} control plane(s), ${workers.length} worker(s)`)
  return { applied, bootstrapped, kubeconfig: paths.kubeconfig }
}

/**
 * `talosctl bootstrap` exactly once per cluster, only on `first`. A failed or timed-out call is
 * followed by a look at etcd, not by another call: a bootstrap that took effect but lost its
 * answer must not be repeated (etcd refuses, or worse a second node forms its own cluster).
 */
async function bootstrapOnce(talosctl: Talosctl, first: TalosNode, controlPlanes: TalosNode[], timing: Timing, progress: (m: string) => void): Promise<'now' | 'already'> {
  const existing = await bootstrappedOn(talosctl, controlPlanes)
  if (existing) {
    progress(`etcd already bootstrapped (running on ${existing.name}): not bootstrapping again`)
    return 'already'
  }
  const deadline = Date.now() + timing.etcdStartMs
  for (let attempt = 1; ; attempt++) {
    progress(`${first.name}: bootstrapping etcd${attempt > 1 ? ` (attempt ${attempt}: etcd did not start)` : ''}`)
    const call = await talosctl.run(['bootstrap'], { nodes: [first.ip], nothrow: true, timeoutMs: timing.bootstrapCallMs })
    if (!call.ok && /AlreadyExists/.test(call.stderr)) {
      progress(`${first.name}: etcd reports it is already bootstrapped`)
      return 'already'
    }
    if (!call.ok) progress(`${first.name}: bootstrap call ${call.timedOut ? 'timed out' : 'failed'}; checking etcd before anything else`)
    // Whatever the call said, etcd decides: wait for it to run with members.
    for (;;) {
      const s = await etcdState(talosctl, first)
      if (s.running && s.members.length) return 'now'
      // Still waiting to be bootstrapped (no call took effect): another call on the same node is safe.
      if (!call.ok && (s.serviceState === 'Preparing' || s.serviceState === 'Waiting') && Date.now() < deadline) break
      if (Date.now() >= deadline) {
        throw call.ok
          ? new TaskFailedError(`etcd did not start on ${first.name} after bootstrap`, { hint: `talosctl -n ${first.ip} service etcd / logs etcd` })
          : toolError(talosctl.bin, ['bootstrap'], call, timing.bootstrapCallMs)
      }
      await sleep(timing.pollMs)
    }
    await sleep(timing.pollMs)
  }
}

export async function health(talosctl: Talosctl, via: TalosNode, controlPlanes: TalosNode[], workers: TalosNode[], waitMs: number): Promise<void> {
  const args = ['health', '--control-plane-nodes', controlPlanes.map((n) => n.ip).join(','), '--wait-timeout', `${Math.max(1, Math.round(waitMs / 1000))}s`]
  if (workers.length) args.push('--worker-nodes', workers.map((n) => n.ip).join(','))
  await talosctl.run(args, { nodes: [via.ip], timeoutMs: waitMs + 60_000 })
}
