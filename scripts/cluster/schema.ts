// Writes the profile JSON Schema for editors (yaml-language-server), generated from the zod schema.
import { writeFile } from 'node:fs/promises'
import { z } from 'zod'
import { runCommand } from '../lib/cli.ts'
import { info } from '../lib/output.ts'
import { profileJsonSchema, PROFILE_JSON_SCHEMA_FILE } from '../lib/profile.ts'

await runCommand({
  name: 'pve:cluster:schema',
  summary: `Regenerate ${PROFILE_JSON_SCHEMA_FILE} from the profile schema`,
  options: z.strictObject({}),
  run: async () => {
    await writeFile(PROFILE_JSON_SCHEMA_FILE, JSON.stringify(profileJsonSchema(), null, 2) + '\n')
    info(`wrote ${PROFILE_JSON_SCHEMA_FILE}`)
  },
})
