import { test } from 'node:test'
import assert from 'node:assert/strict'
import { registerSecret, redact } from '../../scripts/lib/secrets.ts'
import { $ } from '../../scripts/lib/shell.ts'

function captureStderr<T>(fn: () => Promise<T>): Promise<string> {
  const writes: string[] = []
  const orig = process.stderr.write.bind(process.stderr)
  process.stderr.write = ((chunk: string | Uint8Array) => (writes.push(Buffer.from(chunk).toString()), true)) as typeof process.stderr.write
  return fn().finally(() => (process.stderr.write = orig)).then(() => writes.join(''))
}

test("zx's verbose echo of commands and their output is redacted", async () => {
  const secret = registerSecret('zx-c4n4ry-5ecret-value')
  const out = await captureStderr(async () => {
    // a secret must never be interpolated in real code; this proves the last line of defence
    await $({ verbose: true, quiet: false })`echo ${secret}; echo ${secret} >&2`
  })
  assert.match(out, /\$ echo \*\*\*; echo \*\*\* >&2/)
  assert.ok(!out.includes(secret), out)
})

test('secrets passed through env stay out of the echo', async () => {
  const secret = registerSecret('env-c4n4ry-5ecret-value')
  const out = await captureStderr(async () => {
    const r = await $({ verbose: true, quiet: false, env: { ...process.env, PM_SECRET: secret } })`test -n "$PM_SECRET" && echo set`
    assert.equal(r.stdout.trim(), 'set')
  })
  assert.match(out, /test -n "\$PM_SECRET"/)
  assert.ok(!out.includes(secret))
})

test('redact covers raw and URL-encoded forms', () => {
  const secret = registerSecret('a/b+c=d 5ecret')
  assert.equal(redact(`raw ${secret} enc ${encodeURIComponent(secret)}`), 'raw *** enc ***')
})
