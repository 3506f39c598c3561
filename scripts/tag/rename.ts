import { runTagCommand } from '../lib/vm/tag-command.ts'

await runTagCommand('rename')
