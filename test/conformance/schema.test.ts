// Drift check: every endpoint the simulator implements must declare exactly the parameters of
// the official PVE 9.1 schema (names, types, optional, enums, ranges, patterns, formats and
// property-string keys), the same permission check and the same proxy target.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { loadApidoc } from './apidoc.ts'
import { Router } from '../sim/router.ts'
import { register as registerAccess } from '../sim/routes/access.ts'
import { register as registerCluster } from '../sim/routes/cluster.ts'
import { register as registerNodes } from '../sim/routes/nodes.ts'
import { register as registerQemu } from '../sim/routes/qemu.ts'
import { register as registerQemuOps } from '../sim/routes/qemu-ops.ts'
import { resolvePropertyFormat } from '../sim/validate/engine.ts'
import type { ParamSchema } from '../sim/validate/schema.ts'

const router = new Router()
for (const register of [registerAccess, registerCluster, registerNodes, registerQemu, registerQemuOps]) register(router)
const doc = loadApidoc()

/** Checks written as code in the handler because the route DSL has no notation for them. */
const HANDLER_CHECKS = /userid-param|userid-group|perm-modify/

const ATTRS = ['type', 'optional', 'minimum', 'maximum', 'maxLength', 'minLength', 'pattern', 'requires', 'default_key', 'alias', 'keyAlias'] as const

function diffSchema(path: string, ours: ParamSchema, theirs: ParamSchema & { format?: unknown }, out: string[]) {
  const same = (x: unknown, y: unknown) => x === y || (x !== undefined && y !== undefined && Number(x) === Number(y))
  for (const a of ATTRS) if (!same(ours[a], theirs[a])) out.push(`${path}: ${a} is ${JSON.stringify(ours[a])}, schema says ${JSON.stringify(theirs[a])}`)
  if (JSON.stringify(ours.enum?.slice().sort()) !== JSON.stringify(theirs.enum?.slice().sort())) out.push(`${path}: enum ${JSON.stringify(ours.enum)} vs ${JSON.stringify(theirs.enum)}`)
  const theirFormat = theirs.format
  if (theirFormat === undefined || typeof theirFormat === 'string') {
    if (ours.format !== theirFormat) out.push(`${path}: format ${JSON.stringify(ours.format)} vs ${JSON.stringify(theirFormat)}`)
    return
  }
  const ourFormat = typeof ours.format === 'string' ? resolvePropertyFormat(ours.format) : ours.format
  if (!ourFormat) return void out.push(`${path}: property-string format missing (schema has keys ${Object.keys(theirFormat).join(',')})`)
  const keys = new Set([...Object.keys(ourFormat), ...Object.keys(theirFormat)])
  for (const k of keys) {
    const t = (theirFormat as Record<string, ParamSchema>)[k]
    if (!ourFormat[k] || !t) out.push(`${path}.${k}: ${ourFormat[k] ? 'not in the schema' : 'missing'}`)
    else diffSchema(`${path}.${k}`, ourFormat[k], t, out)
  }
}

describe('conformance with apidoc.json (PVE 9.1)', () => {
  it('implements only endpoints that exist', () => {
    const unknown = router.list().filter((r) => !doc.has(`${r.method} ${r.path}`)).map((r) => `${r.method} ${r.path}`)
    assert.deepEqual(unknown, [])
  })

  it('has at least the endpoints the tool relies on', () => {
    assert.ok(router.list().length >= 80, `only ${router.list().length} endpoints`)
  })

  for (const route of router.list()) {
    const api = doc.get(`${route.method} ${route.path}`)
    if (!api) continue
    it(`${route.method} ${route.path}`, () => {
      const problems: string[] = []
      const ours = route.params.properties
      const theirs = (api.parameters?.properties ?? {}) as Record<string, ParamSchema>
      for (const k of new Set([...Object.keys(ours), ...Object.keys(theirs)])) {
        if (!ours[k]) problems.push(`${k}: missing`)
        else if (!theirs[k]) problems.push(`${k}: not in the schema`)
        else diffSchema(k, ours[k], theirs[k], problems)
      }
      if ((route.proxyto ?? null) !== (api.proxyto ?? null)) problems.push(`proxyto ${route.proxyto} vs ${api.proxyto}`)
      const theirCheck = api.permissions?.check
      if (theirCheck && !HANDLER_CHECKS.test(JSON.stringify(theirCheck))) {
        if (JSON.stringify(route.permissions.check) !== JSON.stringify(theirCheck)) problems.push(`permission check ${JSON.stringify(route.permissions.check)} vs ${JSON.stringify(theirCheck)}`)
      } else if (!theirCheck && route.permissions.check) problems.push(`permission check ${JSON.stringify(route.permissions.check)}, schema: ${JSON.stringify(api.permissions)}`)
      if ((route.allowtoken ?? 1) !== (api.allowtoken ?? 1)) problems.push('allowtoken differs')
      assert.deepEqual(problems, [])
    })
  }
})
