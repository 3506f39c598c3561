// Runs after the test suite (`task test`): every request any simulator recorded during the run
// (PM_RECORD_REQUESTS=1 → .test-artifacts/requests/*.jsonl) is validated against the official
// schema. Requests the tool sends must all be valid (0 violations). Requests tests sent invalid
// on purpose (X-Sim-Negative) must be judged the same way by the simulator and by the schema.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { loadApidoc, matchApidoc } from './apidoc.ts'
import { validateParams } from '../sim/validate/engine.ts'
import type { ParametersSchema } from '../sim/validate/schema.ts'
import type { RequestRecord } from '../sim/context.ts'

const dir = resolve(process.env.PM_RECORD_DIR ?? '.test-artifacts/requests')
const REDACTED = '**********'

function load(): RequestRecord[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).flatMap((f) =>
    readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as RequestRecord))
}

describe('recorded requests against apidoc.json', () => {
  // Not judged: 401s, dropped connections, and injected http faults (answered before the parameters were read).
  const records = load().filter((r) => r.status !== 401 && r.status !== 0 && !r.fault)
  const doc = loadApidoc()

  it('found recorded requests (run with PM_RECORD_REQUESTS=1)', () => {
    assert.ok(records.length > 0, `no recorded requests in ${dir}`)
  })

  const verdict = (r: RequestRecord) => {
    const m = matchApidoc(doc, r.method, r.path)
    if (!m) return { endpoint: false, errors: {} as Record<string, string> }
    const params = { ...r.params, ...m.pathParams }
    const errors = validateParams(params, (m.api.parameters ?? { properties: {} }) as ParametersSchema)
    for (const [k, v] of Object.entries(r.params)) if (v === REDACTED) delete errors[k]
    return { endpoint: true, errors }
  }

  it('every request sent by the tool exists and passes the schema', () => {
    const violations: string[] = []
    for (const r of records.filter((x) => !x.negative)) {
      const v = verdict(r)
      if (!v.endpoint) violations.push(`${r.method} ${r.path}: no such endpoint in PVE 9.1`)
      else if (Object.keys(v.errors).length) violations.push(`${r.method} ${r.path} ${JSON.stringify(r.params)}: ${JSON.stringify(v.errors)}`)
    }
    assert.deepEqual([...new Set(violations)], [])
  })

  it('the simulator rejects exactly the parameters the schema rejects', () => {
    const disagreements: string[] = []
    for (const r of records) {
      if (!r.validated) continue
      const v = verdict(r)
      if (!v.endpoint) continue
      const schemaRejects = Object.keys(v.errors).length > 0
      if (schemaRejects !== !!r.schemaRejected) disagreements.push(`${r.method} ${r.path} ${JSON.stringify(r.params)}: simulator ${r.schemaRejected ? 'rejected' : 'accepted'}, schema ${schemaRejects ? `rejects ${JSON.stringify(v.errors)}` : 'accepts'}`)
    }
    assert.deepEqual([...new Set(disagreements)], [])
  })
})
