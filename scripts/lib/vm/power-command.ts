// The six power commands (and kill) share one implementation; each entry script names its action.
import { z } from 'zod'
import { runCommand, outputOption, vmidSchema, waitOption, yesOption } from '../cli.ts'
import { confirmDestructive } from '../prompts.ts'
import { lockTimeoutOption, openVmOps, printResult } from './command.ts'
import { findVm } from './context.ts'
import { powerVm, type PowerAction, type PowerResult } from './power.ts'

const SUMMARY: Record<PowerAction, string> = {
  start: 'Start a VM',
  shutdown: 'Shut a VM down gracefully (ACPI / guest agent), optionally stopping it after --timeout',
  stop: 'Stop a VM immediately (like pulling the plug)',
  reboot: 'Reboot a running VM (pending changes are applied)',
  suspend: 'Pause a running VM (or hibernate it with --to-disk)',
  resume: 'Resume a paused or suspended VM',
}

const PAST: Record<PowerAction, string> = { start: 'started', shutdown: 'shut down', stop: 'stopped', reboot: 'rebooted', suspend: 'suspended', resume: 'resumed' }

export function describePower(r: PowerResult, name?: string): string {
  const vm = `VM ${r.vmid}${name ? ` (${name})` : ''}`
  if (r.result === 'skipped') return `${vm}: nothing to do, ${r.reason}`
  if (r.result === 'dispatched') return r.upid ?? ''
  return `${vm} ${PAST[r.action]}`
}

/** `kill` is `stop` behind a confirmation: it is what pulling the plug does to a guest's data. */
export async function runPowerCommand(action: PowerAction, opts: { kill?: boolean } = {}): Promise<never> {
  const timeoutOption = z.coerce.number().int().min(0).optional()
  return runCommand({
    name: `pve:vm:${opts.kill ? 'kill' : action}`,
    summary: opts.kill ? 'Force-stop a VM (confirmed): no clean shutdown, unsaved guest data is lost' : SUMMARY[action],
    options: z.strictObject({
      vmid: vmidSchema.describe('the VM'),
      wait: waitOption,
      output: outputOption,
      lockTimeout: lockTimeoutOption,
      ...(action === 'shutdown' || action === 'stop' || action === 'reboot'
        ? { timeout: timeoutOption.describe(action === 'shutdown' ? 'seconds to wait for the guest to power off (PVE default 60)' : 'seconds PVE waits for the VM') }
        : {}),
      ...(action === 'shutdown' ? { forceStop: z.boolean().default(false).describe('stop the VM if it has not powered off after --timeout') } : {}),
      ...(action === 'suspend' ? { toDisk: z.boolean().default(false).describe('save RAM to disk and stop QEMU (hibernate)') } : {}),
      ...(opts.kill ? { yes: yesOption } : {}),
    }),
    details: action === 'shutdown' ? 'Example: task pve:vm:shutdown VMID=1031 -- --timeout 120 --force-stop' : undefined,
    async run(o, cli) {
      const { ops } = await openVmOps(cli, { lockTimeout: o.lockTimeout })
      const vm = await findVm(ops.api, o.vmid)
      const extra = o as { timeout?: number; forceStop?: boolean; toDisk?: boolean; yes?: boolean }
      if (opts.kill && vm.status === 'running') {
        await confirmDestructive(`Force-stop VM ${vm.vmid} (${vm.name ?? ''}) on ${vm.node}? The guest gets no chance to shut down.`, { yes: extra.yes ?? false })
      }
      const res = await powerVm(ops, vm, action, { wait: o.wait, timeout: extra.timeout, forceStop: extra.forceStop, toDisk: extra.toDisk })
      printResult(o.output, { ...res, name: vm.name, node: vm.node }, describePower(res, vm.name))
    },
  })
}
