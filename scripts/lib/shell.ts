// zx for the few external commands (ssh, talosctl, ansible-playbook): one preset, quiet unless
// --debug, and a $.log that masks every registered secret in the command echo and its output.
// Secrets never go into a command line: pass them via `env:` (referenced as "$NAME") or `input:`.
import { $, log, type LogEntry } from 'zx'
import { isDebug } from './cli.ts'
import { redact } from './secrets.ts'

$.log = (entry: LogEntry) => {
  switch (entry.kind) {
    case 'cmd':
      return log({ ...entry, cmd: redact(entry.cmd) })
    case 'stdout':
    case 'stderr':
      return log({ ...entry, data: Buffer.from(redact(entry.data.toString())) })
    case 'fetch':
      // zx prints the init object (headers included) when verbose: never show it.
      return log({ ...entry, init: undefined })
    default:
      return log(entry)
  }
}

/** The shell for our scripts: quiet by default, echoing commands (redacted) with --debug. */
export function sh() {
  return $({ quiet: !isDebug(), verbose: isDebug() })
}

export { $ }
