// The only importer of @inquirer/prompts. Confirmations default to No, and without a terminal
// they refuse unless --yes was given (and say so), so nothing destructive runs unattended by accident.
import { confirm, input } from '@inquirer/prompts'
import { AbortedError, RefusedError } from './errors.ts'

export interface ConfirmOptions {
  /** --yes: confirmed in advance */
  yes: boolean
  /** streams for tests; default: the process's terminal */
  context?: { input?: NodeJS.ReadableStream; output?: NodeJS.WritableStream }
}

export function hasTerminal(): boolean {
  return !!process.stdin.isTTY && !!process.stderr.isTTY
}

function requireTerminal(message: string, opts: ConfirmOptions): void {
  if (!opts.context && !hasTerminal()) throw new RefusedError(`${message}\nNo terminal to ask for confirmation: nothing was done.`, 're-run with --yes to confirm')
}

/** Asks "message (y/N)". Resolves when confirmed; AbortedError on "no". */
export async function confirmDestructive(message: string, opts: ConfirmOptions): Promise<void> {
  if (opts.yes) return
  requireTerminal(message, opts)
  const ok = await confirm({ message, default: false }, { output: process.stderr, ...opts.context } as never)
  if (!ok) throw new AbortedError()
}

/** For the most destructive operations: the user must type `expected` (e.g. the cluster name). */
export async function confirmTyped(message: string, expected: string, opts: ConfirmOptions): Promise<void> {
  if (opts.yes) return
  requireTerminal(message, opts)
  const answer = await input({ message: `${message}\nType '${expected}' to confirm:` }, { output: process.stderr, ...opts.context } as never)
  if (answer.trim() !== expected) throw new AbortedError(`Aborted: '${answer.trim()}' is not '${expected}'.`)
}
