import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { confirmDestructive, confirmTyped } from '../../scripts/lib/prompts.ts'
import { AbortedError, EXIT, RefusedError } from '../../scripts/lib/errors.ts'

/** A fake terminal: answers are typed once the prompt is drawn. */
function terminal(answer: string) {
  const input = new PassThrough()
  const output = new PassThrough()
  let screen = ''
  output.on('data', (c: Buffer) => {
    screen += c.toString()
    if (answer !== undefined) {
      const a = answer
      answer = undefined as never
      setImmediate(() => input.write(a))
    }
  })
  return { context: { input, output }, screen: () => screen }
}

test('--yes confirms without asking', async () => {
  await confirmDestructive('Delete VM 101?', { yes: true })
  await confirmTyped('Tear down cluster lab?', 'lab', { yes: true })
})

test('without a terminal and without --yes: refused, saying how to confirm', async () => {
  await assert.rejects(confirmDestructive('Delete VM 101 (web01)?', { yes: false }), (err: RefusedError) => {
    assert.equal(err.exitCode, EXIT.refused)
    assert.match(err.message, /^Delete VM 101 \(web01\)\?\nNo terminal to ask for confirmation: nothing was done\.$/)
    assert.equal(err.hint, 're-run with --yes to confirm')
    return true
  })
  await assert.rejects(confirmTyped('Tear down?', 'lab', { yes: false }), RefusedError)
})

test('the default answer is No', async () => {
  const t = terminal('\r')
  await assert.rejects(confirmDestructive('Delete VM 101?', { yes: false, context: t.context }), AbortedError)
  assert.match(t.screen(), /Delete VM 101\? \(y\/N\)/)
})

test('"y" confirms', async () => {
  const t = terminal('y\r')
  await confirmDestructive('Delete VM 101?', { yes: false, context: t.context })
})

test('typed confirmation needs the exact name', async () => {
  await confirmTyped('Tear down cluster lab?', 'lab', { yes: false, context: terminal('lab\r').context })
  await assert.rejects(confirmTyped('Tear down cluster lab?', 'lab', { yes: false, context: terminal('la\r').context }), /'la' is not 'lab'/)
})
