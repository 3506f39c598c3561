import { runPowerCommand } from '../lib/vm/power-command.ts'

await runPowerCommand('stop')
