import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { PveClient } from '../../scripts/lib/pve/client.ts'
import { createAgent } from '../../scripts/lib/pve/tls.ts'
import { decodeUpid, waitForTask } from '../../scripts/lib/pve/tasks.ts'
import { TaskFailedError, UsageError, EXIT } from '../../scripts/lib/errors.ts'
import { makePki, startTestServer, sendJson, type TestServer } from '../helpers/https.ts'

const UPID = 'UPID:pve2:000A1B2C:01C2D3E4:6650F1A2:qmclone:9000:ops@pve!cli:'
const pki = makePki()

describe('decodeUpid', () => {
  test('decodes every field; the user of a token task is the full token id', () => {
    assert.deepEqual(decodeUpid(UPID), { upid: UPID, node: 'pve2', pid: 0x000a1b2c, pstart: 0x01c2d3e4, starttime: 0x6650f1a2, type: 'qmclone', id: '9000', user: 'ops@pve!cli' })
  })
  test('the id may be empty (vzdump of several guests), pstart may have 9 digits', () => {
    const d = decodeUpid('UPID:pve-a1:0000ABCD:123456789:6650F1A2:vzdump::root@pam:')
    assert.equal(d.id, '')
    assert.equal(d.node, 'pve-a1')
    assert.equal(d.pstart, 0x123456789)
  })
  test('malformed UPIDs are rejected (missing trailing colon, bad node, wrong hex width)', () => {
    for (const bad of [UPID.slice(0, -1), 'UPID:-pve:000A1B2C:01C2D3E4:6650F1A2:qmclone:9000:a@pam:', 'UPID:pve:A1B2C:01C2D3E4:6650F1A2:qmclone:9000:a@pam:', 'garbage'])
      assert.throws(() => decodeUpid(bad), UsageError, bad)
  })
})

interface FakeTask {
  /** status polls answered "running" before the task stops */
  runningPolls: number
  exitstatus: string
  log: string[]
  /** status polls answered 400 "no such task" first */
  unknownPolls?: number
}

/** A PVE node's task endpoints: status and paged log, with the log growing while it runs. */
async function taskServer(task: FakeTask): Promise<TestServer & { polls: () => number }> {
  let polls = 0
  const server = await startTestServer(pki.server, (req, res) => {
    const url = new URL(req.url, 'https://x')
    const parts = url.pathname.split('/').map(decodeURIComponent)
    assert.equal(parts[4], 'pve2', 'the task is polled on its own node')
    assert.equal(parts[6], UPID)
    if (parts[7] === 'status') {
      polls++
      if (polls <= (task.unknownPolls ?? 0)) return sendJson(res, 400, { data: null, errors: { upid: 'no such task' } }, 'Parameter verification failed.')
      const running = polls <= (task.unknownPolls ?? 0) + task.runningPolls
      return sendJson(res, 200, { data: { status: running ? 'running' : 'stopped', ...(running ? {} : { exitstatus: task.exitstatus }), upid: UPID, node: 'pve2' } })
    }
    // the log grows by one line per status poll while running
    const visible = polls <= task.runningPolls ? task.log.slice(0, Math.max(polls, 0)) : task.log
    const start = Number(url.searchParams.get('start') ?? 0)
    const limit = Number(url.searchParams.get('limit') ?? 50)
    const lines = visible.map((t, i) => ({ n: i + 1, t })).slice(start, limit ? start + limit : undefined)
    sendJson(res, 200, { data: visible.length ? lines : [{ n: 1, t: 'no content' }], total: visible.length || 1 })
  })
  return Object.assign(server, { polls: () => polls })
}

function clientFor(s: TestServer) {
  return new PveClient({
    nodes: [{ name: 'pve1', host: s.host, port: s.port }],
    credentials: async () => ({ tokenId: 'ops@pve!cli', secret: 'c4n4ry00-0000-4000-8000-00000000000t', source: 'test' }),
    dispatcher: createAgent({ ca_file: pki.caFile }, { connectTimeoutMs: 1000 }),
    retryBaseMs: 1,
  })
}

describe('waitForTask', () => {
  test('OK: polls until stopped, with growing intervals, and streams the log in order', async () => {
    const s = await taskServer({ runningPolls: 3, exitstatus: 'OK', log: ['create full clone of drive scsi0 (local-lvm:base-9000-disk-0)', 'transferred 1.0 GiB', 'TASK OK'] })
    const c = clientFor(s)
    const lines: string[] = []
    const result = await waitForTask(c, UPID, { pollMs: 5, onLog: (l) => lines.push(l) })
    assert.deepEqual(result, { upid: UPID, exitstatus: 'OK', warnings: [] })
    assert.deepEqual(lines, ['create full clone of drive scsi0 (local-lvm:base-9000-disk-0)', 'transferred 1.0 GiB', 'TASK OK'])
    assert.equal(s.polls(), 4)
    await c.close()
    await s.close()
  })

  test('WARNINGS: n is a success that returns (and prints) the warnings', async () => {
    const s = await taskServer({ runningPolls: 0, exitstatus: 'WARNINGS: 1', log: ['starting', 'WARN: unable to detect guest agent', 'TASK WARNINGS: 1'] })
    const c = clientFor(s)
    const writes: string[] = []
    const orig = process.stderr.write.bind(process.stderr)
    process.stderr.write = ((chunk: string) => (writes.push(String(chunk)), true)) as typeof process.stderr.write
    try {
      const result = await waitForTask(c, UPID, { pollMs: 5 })
      assert.deepEqual(result.warnings, ['WARN: unable to detect guest agent'])
      assert.equal(result.exitstatus, 'WARNINGS: 1')
    } finally {
      process.stderr.write = orig
    }
    assert.match(writes.join(''), /warning: task qmclone 9000: WARN: unable to detect guest agent/)
    await c.close()
    await s.close()
  })

  test('any other exit status fails with the tail of the task log', async () => {
    const log = [...Array.from({ length: 30 }, (_, i) => `line ${i + 1}`), "TASK ERROR: clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout"]
    const s = await taskServer({ runningPolls: 1, exitstatus: "clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout", log })
    const c = clientFor(s)
    await assert.rejects(waitForTask(c, UPID, { pollMs: 5, tailLines: 20 }), (err: TaskFailedError) => {
      assert.equal(err.exitCode, EXIT.taskFailed)
      assert.match(err.message, /^task qmclone 9000 on pve2 failed: clone failed: can't lock file/)
      assert.equal(err.logTail.length, 20)
      assert.equal(err.logTail[0], 'line 12')
      assert.equal(err.logTail[19], log[30])
      return true
    })
    await c.close()
    await s.close()
  })

  test('"no such task" right after creation is tolerated', async () => {
    const s = await taskServer({ runningPolls: 0, unknownPolls: 2, exitstatus: 'OK', log: ['TASK OK'] })
    const c = clientFor(s)
    assert.equal((await waitForTask(c, UPID, { pollMs: 5 })).exitstatus, 'OK')
    await c.close()
    await s.close()
  })

  test('the deadline stops the wait with a hint; the task is left alone', async () => {
    const s = await taskServer({ runningPolls: 1_000_000, exitstatus: 'OK', log: [] })
    const c = clientFor(s)
    await assert.rejects(waitForTask(c, UPID, { pollMs: 10, timeoutMs: 60 }), (err: TaskFailedError) => {
      assert.match(err.message, /still running after 0 s; stopped waiting/)
      assert.match(err.hint ?? '', /UPID=UPID:pve2:/)
      return true
    })
    assert.ok(!s.requests.some((r) => r.method !== 'GET'), 'waiting never stops the task')
    await c.close()
    await s.close()
  })

  test('an abort signal ends the wait', async () => {
    const s = await taskServer({ runningPolls: 1_000_000, exitstatus: 'OK', log: [] })
    const c = clientFor(s)
    await assert.rejects(waitForTask(c, UPID, { pollMs: 10, signal: AbortSignal.timeout(50) }), (err: Error) => err.name === 'TimeoutError' || err.name === 'ApiError')
    await c.close()
    await s.close()
  })
})
