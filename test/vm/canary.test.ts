// A canary token through the VM, node, storage and disk commands: with --debug (request lines),
// on success, on refusals, on API errors and with a node down, it must appear in no output (raw,
// URL-encoded or base64) and in no process's argv (sampled from /proc while the commands run).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { sandbox, type Sandbox } from './sim-helpers.ts'

let sb: Sandbox
before(async () => {
  sb = await sandbox()
})
after(() => sb.stop())

test('a canary token appears in no output of any VM, node, storage or disk command, nor in any argv', async () => {
  const canary = sb.sim.control.createToken('canary@pve', 'leak', { privsep: false, userAcl: [{ path: '/', role: 'Administrator' }] })
  const env = { PVE_TOKEN_ID: canary.id, PVE_TOKEN_SECRET: canary.secret }
  const forms = [canary.secret, encodeURIComponent(canary.secret), Buffer.from(canary.secret).toString('base64')]
  const inArgv: string[] = []
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try {
          const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
          if (forms.some((f) => argv.includes(f))) inArgv.push(argv)
        } catch {
          // the process ended between readdir and read
        }
      }
      await new Promise((r) => setTimeout(r, 10))
    }
  })()
  const runs: { script: string; code: number; out: string }[] = []
  const run = async (script: string, args: string[]) => {
    const r = await sb.run(script, ['--debug', ...args], { env })
    runs.push({ script: `${script} ${args.join(' ')}`, code: r.code, out: r.stdout + r.stderr })
  }
  try {
    // successes
    await Promise.all([run('vm/start', ['--vmid', '1003']), run('bulk/shutdown', ['--selector', '@tag-web', '--dry-run']), run('node/status', []), run('storage/list', [])])
    await Promise.all([run('vm/set', ['--vmid', '1003', '--cores', '2', '--memory', '2048']), run('tag/add', ['--selector', '1003', '--tag', 'canary']), run('disks/orphans', []), run('node/health', [])])
    await Promise.all([run('snap/create', ['--vmid', '1003', '--name', 'canary']), run('backup/list', []), run('node/evacuate', ['--node', 'pve2', '--dry-run'])])
    // refusals and errors: empty selector, unknown VM, an API error, a node that is down
    sb.sim.control.addFault({ kind: 'http', method: 'PUT', path: '/qemu/1003/config$', status: 500, message: 'canary: injected failure', count: 1 })
    await Promise.all([run('bulk/stop', ['--selector', '']), run('vm/set', ['--vmid', '4242', '--cores', '2']), run('vm/set', ['--vmid', '1003', '--cores', '3'])])
    await sb.sim.control.setNode('pve3', { mode: 'offline' })
    await Promise.all([run('vm/stop', ['--vmid', '1002']), run('node/status', ['--node', 'pve3'])])
  } finally {
    sampling = false
    await sampler
    sb.sim.control.clearFaults()
    await sb.sim.control.setNode('pve3', { mode: 'online' })
  }
  assert.ok(runs.some((r) => r.code === 0) && runs.some((r) => r.code !== 0), 'successes and failures were both exercised')
  assert.deepEqual(runs.filter((r) => !r.out.includes('[debug]')).map((r) => r.script), ['bulk/stop --selector '], 'debug output was on (the empty selector is refused before any request)')
  for (const r of runs) {
    for (const form of forms) assert.ok(!r.out.includes(form), `${r.script} leaked the token:\n${r.out}`)
    assert.doesNotMatch(r.out, /PVEAPIToken/i, r.script)
  }
  assert.deepEqual(inArgv, [])
})
