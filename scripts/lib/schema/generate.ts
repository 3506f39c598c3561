// Writes the JSON Schemas editors use (`# yaml-language-server: $schema=...`) from the zod
// schemas, so the two never disagree. Run: task schema (a test fails when they are stale).
import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { z } from 'zod'
import { ClusterConfigSchema } from '../config.ts'

const SCHEMAS: Array<{ file: string; title: string; schema: z.ZodType }> = [
  { file: 'cluster-config.schema.json', title: 'proxmox-manager cluster-config.yaml', schema: ClusterConfigSchema },
]

export function renderSchemaFiles(): Array<{ path: string; text: string }> {
  return SCHEMAS.map(({ file, title, schema }) => {
    // io: 'input' describes what a person writes (defaults make keys optional).
    const json = { title, ...z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) }
    return { path: resolve(import.meta.dirname, file), text: JSON.stringify(json, null, 2) + '\n' }
  })
}

if (import.meta.main) {
  for (const { path, text } of renderSchemaFiles()) {
    writeFileSync(path, text)
    process.stdout.write(`wrote ${path}\n`)
  }
}
