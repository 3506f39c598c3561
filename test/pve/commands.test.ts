// The read-only commands end to end: real scripts as subprocesses, over HTTPS with the
// simulator's CA, asserting what they print and what the simulated PVE received.
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { startSimulator, apiClient, type Simulator } from '../helpers/sim.ts'
import { runScript, type RunResult } from '../helpers/run.ts'
import { makePki } from '../helpers/https.ts'
import { EXIT } from '../../scripts/lib/errors.ts'
import { TOOL_PRIVILEGES } from '../../scripts/lib/pve/privileges.ts'

let sim: Simulator
let dir: string


const run = (script: string, args: string[] = [], env: Record<string, string> = {}): Promise<RunResult> => runScript(script, args, { env: { ...sim.env(), ...env } })
const json = (r: RunResult) => {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout)
}
/** Requests the simulator answered while `fn` ran. */
async function requestsDuring(fn: () => Promise<unknown>) {
  const before = sim.requests.length
  await fn()
  return sim.requests.slice(before)
}

before(async () => {
  sim = await startSimulator({ inventory: 'sandbox' })
  dir = mkdtempSync(join(tmpdir(), 'pm-commands-'))
  sim.writeClusterConfig(join(dir, 'cluster-config.yaml'))
})
after(() => sim.stop())

describe('pve:vms', () => {
  test('lists every VM (templates included) with node, status, tags and lock', async () => {
    sim.control.setLock(1003, 'backup')
    try {
      const r = await run('scripts/pve/vms.ts')
      assert.equal(r.code, 0, r.stderr)
      const lines = r.stdout.trim().split('\n')
      assert.match(lines[0], /^VMID +NAME +NODE +STATUS +CPU +MEM +TAGS +LOCK$/)
      assert.equal(lines.length, 1 + 7)
      assert.match(r.stdout, /\n +100 +ubuntu-2404-cloudinit +pve1 +template /)
      assert.match(r.stdout, /\n1002 +db-1 +pve3 +running .*db,pm-managed,prod/)
      assert.match(r.stdout, /\n1003 +dev-1 +pve2 +stopped .* backup$/m)
    } finally {
      sim.control.unlock(1003)
    }
  })

  test('JSON output matches the simulated cluster', async () => {
    const vms = json(await run('scripts/pve/vms.ts', ['--output', 'json']))
    assert.deepEqual(
      vms.map((v: any) => [v.vmid, v.node, v.status, v.template]),
      [
        [100, 'pve1', 'stopped', true],
        [101, 'pve1', 'stopped', true],
        [1000, 'pve1', 'running', false],
        [1001, 'pve2', 'running', false],
        [1002, 'pve3', 'running', false],
        [1003, 'pve2', 'stopped', false],
        [1010, 'pve3', 'running', false],
      ],
    )
    assert.deepEqual(vms.find((v: any) => v.vmid === 1002).tags, ['db', 'pm-managed', 'prod'])
  })

  test('filters: --status, --node, repeated --tag (AND), --template / --no-template; yaml output', async () => {
    const ids = async (...args: string[]) => json(await run('scripts/pve/vms.ts', [...args, '-o', 'json'])).map((v: any) => v.vmid)
    assert.deepEqual(await ids('--status', 'running'), [1000, 1001, 1002, 1010])
    assert.deepEqual(await ids('--node', 'pve2'), [1001, 1003])
    assert.deepEqual(await ids('--tag', 'prod', '--tag', 'web'), [1000, 1001])
    assert.deepEqual(await ids('--tag', 'prod', '--tag', 'dev'), [])
    assert.deepEqual(await ids('--template'), [100, 101])
    assert.deepEqual(await ids('--no-template', '--node', 'pve3', '--status', 'running'), [1002, 1010])
    const yaml = await run('scripts/pve/vms.ts', ['--tag', 'db', '--output', 'yaml'])
    assert.deepEqual(parseYaml(yaml.stdout).map((v: any) => v.name), ['db-1'])
  })

  test('one request: /cluster/resources?type=vm', async () => {
    const reqs = await requestsDuring(() => run('scripts/pve/vms.ts', ['--tag', 'prod']))
    assert.deepEqual(
      reqs.map((r) => `${r.method} ${r.path} ${JSON.stringify(r.params)}`),
      ['GET /cluster/resources {"type":"vm"}'],
    )
  })

  test('bad usage is exit 1 and names the option', async () => {
    const r = await run('scripts/pve/vms.ts', ['--status', 'sleeping'])
    assert.equal(r.code, EXIT.usage)
    assert.match(r.stderr, /--status: Invalid option/)
    const unknown = await run('scripts/pve/vms.ts', ['--colour', 'red'])
    assert.equal(unknown.code, EXIT.usage)
    assert.match(unknown.stderr, /unknown option: --colour/)
  })

  test('an invalid config changes nothing and names file, line and field', async () => {
    const reqs = await requestsDuring(async () => {
      const r = await run('scripts/pve/vms.ts', ['--config', join(import.meta.dirname, '../fixtures/config/invalid/port-out-of-range.yaml')])
      assert.equal(r.code, EXIT.config)
      assert.match(r.stderr, /port-out-of-range\.yaml:8:13 cluster\.nodes\.0\.port: Too big/)
    })
    assert.equal(reqs.length, 0)
  })

  test('an empty result prints (none) as a table and [] as JSON', async () => {
    assert.equal((await run('scripts/pve/vms.ts', ['--tag', 'nothing-has-this'])).stdout, '(none)\n')
    assert.deepEqual(json(await run('scripts/pve/vms.ts', ['--tag', 'nothing-has-this', '-o', 'json'])), [])
  })
})

describe('pve:templates', () => {
  test('lists only templates', async () => {
    const r = await run('scripts/pve/templates.ts')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^VMID +NAME +NODE +CORES +MEM +DISK +TAGS +NOTE\n +100 +ubuntu-2404-cloudinit +pve1 +2 +2\.0 GiB +4\.0 GiB +pm-managed,template +-\n +101 +talos-v1\.11\.5 /)
    assert.deepEqual(json(await run('scripts/pve/templates.ts', ['--tag', 'talos', '-o', 'json'])).map((v: any) => v.vmid), [101])
  })
})

describe('pve:vm:config', () => {
  test("reads the config from the VM's own node", async () => {
    const reqs = await requestsDuring(async () => {
      const out = json(await run('scripts/vm/config.ts', ['--vmid', '1002', '-o', 'json']))
      assert.equal(out.node, 'pve3')
      assert.equal(out.config.name, 'db-1')
      assert.equal(out.config.protection, 1)
      assert.match(out.config.digest, /^[0-9a-f]{40}$/)
    })
    assert.ok(reqs.some((r) => r.method === 'GET' && r.path === '/nodes/pve3/qemu/1002/config'), JSON.stringify(reqs.map((r) => r.path)))
  })

  test('table output: name first, digest last', async () => {
    const r = await run('scripts/vm/config.ts', ['--vmid', '1000'])
    assert.equal(r.code, 0, r.stderr)
    const keys = r.stdout.trim().split('\n').slice(1).map((l) => l.split(/ +/)[0])
    assert.equal(keys[0], 'name')
    assert.equal(keys.at(-1), 'digest')
    assert.ok(keys.includes('scsi0') && keys.includes('net0'))
  })

  test('a VM that does not exist is exit 3', async () => {
    const r = await run('scripts/vm/config.ts', ['--vmid', '4242'])
    assert.equal(r.code, EXIT.notFound)
    assert.match(r.stderr, /error: VM 4242 does not exist/)
  })

  test('a VMID out of range is a usage error before any request', async () => {
    const reqs = await requestsDuring(async () => assert.equal((await run('scripts/vm/config.ts', ['--vmid', '42'])).code, EXIT.usage))
    assert.equal(reqs.length, 0)
  })
})

describe('pve:status', () => {
  test('cluster, quorum, nodes online, per-node load', async () => {
    const r = await run('scripts/pve/status.ts')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^cluster \S+: quorate, 3\/3 nodes online\n\nNODE +STATUS +IP +CPU +MEMORY +UPTIME\npve1 +online /)
    const status = json(await run('scripts/pve/status.ts', ['-o', 'json']))
    assert.equal(status.cluster.quorate, true)
    assert.deepEqual(status.nodes.map((n: any) => [n.node, n.online]), [['pve1', true], ['pve2', true], ['pve3', true]])
    assert.ok(status.nodes.every((n: any) => n.maxcpu > 0 && n.maxmem > 0 && n.uptime > 0))
  })

  test('an offline node is shown and warned about; the command still answers via another node', async () => {
    await sim.control.setNode('pve1', { mode: 'offline' })
    try {
      const r = await run('scripts/pve/status.ts')
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /2\/3 nodes online/)
      assert.match(r.stdout, /\npve1 +OFFLINE/)
      assert.match(r.stderr, /warning: node pve1 is offline/)
      assert.match(r.stderr, /pve1 \(127\.[\d.]+:\d+\): connection refused; trying pve2/)
    } finally {
      await sim.control.setNode('pve1', { mode: 'online' })
    }
  })
})

describe('pve:tasks', () => {
  test('recent tasks, newest first, with filters', async () => {
    const api = apiClient(sim)
    const upid = await api.post('/nodes/pve2/qemu/1003/status/start')
    await api.wait(upid)
    const tasks = json(await run('scripts/pve/tasks.ts', ['--vmid', '1003', '-o', 'json']))
    assert.equal(tasks[0].upid, upid)
    assert.equal(tasks[0].type, 'qmstart')
    assert.equal(tasks[0].status, 'OK')
    const table = await run('scripts/pve/tasks.ts', ['--type', 'qmstart'])
    assert.match(table.stdout, /^STARTED +NODE +TYPE +ID +USER +STATUS +DURATION +UPID\n/)
    assert.ok(table.stdout.includes(upid))
    assert.deepEqual(json(await run('scripts/pve/tasks.ts', ['--running', '--vmid', '1003', '-o', 'json'])), [])
    await api.post('/nodes/pve2/qemu/1003/status/stop')
  })

  test('--errors lists failed tasks only', async () => {
    const api = apiClient(sim)
    sim.control.addFault({ kind: 'task-fail', type: 'qmstart', vmid: 1003, message: "can't lock file '/var/lock/qemu-server/lock-1003.conf' - got timeout", count: 1 })
    const upid = await api.post('/nodes/pve2/qemu/1003/status/start')
    await api.wait(upid)
    const failed = json(await run('scripts/pve/tasks.ts', ['--errors', '-o', 'json']))
    assert.ok(failed.some((t: any) => t.upid === upid && /got timeout/.test(t.status)))
    assert.ok(failed.every((t: any) => t.status !== 'OK'))
  })
})

describe('pve:check', () => {
  test('all nodes reachable, version, token valid, all privileges: exit 0', async () => {
    const r = await run('scripts/pve/check.ts')
    assert.equal(r.code, 0, r.stdout + r.stderr)
    for (const n of sim.nodes) assert.match(r.stdout, new RegExp(`\\n${n.name} +${n.host.replace(/\./g, '\\.')}:${n.port} +ok +9\\.1`))
    assert.match(r.stdout, /token: root@pam!sim from environment: valid/)
    assert.match(r.stdout, new RegExp(`privileges on /: ${TOOL_PRIVILEGES.length} of the ${TOOL_PRIVILEGES.length}`))
  })

  test('a token with a narrower role: the missing privileges and what they are for, exit 8', async () => {
    const token = sim.control.createToken('viewer@pve', 'ro', { acl: [{ path: '/', role: 'PVEAuditor' }] })
    const r = await run('scripts/pve/check.ts', [], { PVE_TOKEN_ID: token.id, PVE_TOKEN_SECRET: token.secret })
    assert.equal(r.code, EXIT.findings, r.stdout + r.stderr)
    assert.match(r.stdout, /missing VM\.PowerMgmt: start, stop/)
    assert.match(r.stdout, /missing VM\.Migrate: /)
    assert.doesNotMatch(r.stdout, /missing VM\.Audit/)
    const report = json({ ...(await run('scripts/pve/check.ts', ['-o', 'json'], { PVE_TOKEN_ID: token.id, PVE_TOKEN_SECRET: token.secret })), code: 0 })
    assert.ok(report.privileges.missing.some((p: any) => p.privilege === 'VM.Allocate'))
  })

  test('a wrong secret: REJECTED (401), exit 4', async () => {
    const r = await run('scripts/pve/check.ts', [], { PVE_TOKEN_SECRET: '00000000-0000-4000-8000-000000000000' })
    assert.equal(r.code, EXIT.api)
    assert.match(r.stdout, /rejected the API token \(401 Authentication failed!\)/)
    assert.match(r.stdout, /token: root@pam!sim from environment: REJECTED \(401\)/)
  })

  test('no token at all: the nodes are still probed (reachable, TLS fine), the token problem is named, exit 2', async () => {
    const r = await run('scripts/pve/check.ts', [], { PVE_TOKEN_ID: '', PVE_TOKEN_SECRET: '', PASSWORD_STORE_DIR: mkdtempSync(join(tmpdir(), 'pm-empty-store-')) })
    assert.equal(r.code, EXIT.config, r.stdout + r.stderr)
    assert.match(r.stdout, /\npve1 .* ok .*reachable; no token to authenticate with/)
    assert.match(r.stdout, /token: NONE: .*credentials\.pass_path: /)
  })

  test('a node that is down is diagnosed (connection refused), the others checked: exit 8', async () => {
    await sim.control.setNode('pve2', { mode: 'offline' })
    try {
      const r = await run('scripts/pve/check.ts')
      assert.equal(r.code, EXIT.findings)
      assert.match(r.stdout, /\npve2 .* FAILED .*connection refused \(is pveproxy running/)
      assert.match(r.stdout, /\npve3 .* ok /)
    } finally {
      await sim.control.setNode('pve2', { mode: 'online' })
    }
  })

  test('DNS failure is named as such', async () => {
    const cfg = sim.writeClusterConfig(join(dir, 'dns.yaml'), { cluster: { name: 'x', nodes: [{ name: 'pve1', host: 'pve1.invalid', port: 8006 }] } })
    const r = await run('scripts/pve/check.ts', ['--config', cfg])
    assert.equal(r.code, EXIT.api)
    assert.match(r.stdout, /cannot resolve host name 'pve1\.invalid' \(DNS/)
  })

  test('a certificate from another CA gets no request, and is diagnosed', async () => {
    const cfg = sim.writeClusterConfig(join(dir, 'wrong-ca.yaml'), { tls: { ca_file: makePki().otherCaFile } })
    const reqs = await requestsDuring(async () => {
      const r = await run('scripts/pve/check.ts', ['--config', cfg])
      assert.equal(r.code, EXIT.api)
      assert.match(r.stdout, /TLS certificate is not signed by a trusted CA \(\w+\); nothing was sent/)
    })
    assert.equal(reqs.length, 0)
  })

  test('a wrong pin gets no request; the right pins work', async () => {
    const wrong = sim.writeClusterConfig(join(dir, 'wrong-pin.yaml'), { tls: { fingerprint: sim.nodes[0].fingerprint.replace(/^[0-9A-F]{2}/, (b) => (b === '00' ? '11' : '00')) } })
    const reqs = await requestsDuring(async () => {
      const r = await run('scripts/pve/check.ts', ['--config', wrong])
      assert.equal(r.code, EXIT.api)
      assert.match(r.stdout, /does not match the pinned fingerprint \(got [0-9A-F:]{95}\); nothing was sent/)
      const vms = await run('scripts/pve/vms.ts', ['--config', wrong])
      assert.equal(vms.code, EXIT.api)
    })
    assert.equal(reqs.length, 0)
    const pinned = sim.writeClusterConfig(join(dir, 'pins.yaml'), { tls: { fingerprint: sim.nodes.map((n) => n.fingerprint) } })
    assert.equal((await run('scripts/pve/check.ts', ['--config', pinned])).code, 0)
  })
})

describe('API failures seen by commands', () => {
  test('403: PVE’s permission message and a hint, exit 4', async () => {
    const token = sim.control.createToken('vmonly@pve', 'ro', { acl: [{ path: '/vms', role: 'PVEVMUser' }] })
    const r = await run('scripts/pve/status.ts', [], { PVE_TOKEN_ID: token.id, PVE_TOKEN_SECRET: token.secret })
    assert.equal(r.code, EXIT.api)
    assert.match(r.stderr, /error: GET \/cluster\/status: Permission check failed \(\/, Sys\.Audit\) \(403\)/)
    assert.match(r.stderr, /hint: the token lacks a privilege/)
  })

  test('595 from the answering node is retried for a GET', async () => {
    sim.control.addFault({ kind: 'http', status: 595, message: 'Connection refused', method: 'GET', path: '^/cluster/resources', count: 2 })
    const vms = json(await run('scripts/pve/vms.ts', ['-o', 'json']))
    assert.equal(vms.length, 7)
  })

  test('a request past its deadline: the GET is retried, then exit 4 with the deadline named', async () => {
    sim.control.addFault({ kind: 'delay', seconds: 3600, method: 'GET', path: '^/cluster/resources', count: 10 })
    try {
      const r = await run('scripts/pve/vms.ts', [], { PM_API_TIMEOUT_MS: '300' })
      assert.equal(r.code, EXIT.api)
      assert.match(r.stderr, /no response to GET \/cluster\/resources within 0\.3 s/)
    } finally {
      sim.control.clearFaults()
    }
  })
})

describe('the token never leaks', () => {
  test('a canary token appears in no output of any command, even with --debug, nor in any argv', async () => {
    const canary = sim.control.createToken('canary@pve', 'leak', { privsep: false })
    await sim.control.setNode('pve1', { mode: 'offline' }) // failover and error paths too
    const env = { PVE_TOKEN_ID: canary.id, PVE_TOKEN_SECRET: canary.secret }
    const seen: string[] = []
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
          try {
            const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
            if (argv.includes(canary.secret)) seen.push(argv)
          } catch {
            // the process ended between readdir and read
          }
        }
        await new Promise((r) => setTimeout(r, 10))
      }
    })()
    try {
      const runs = await Promise.all([
        run('scripts/pve/check.ts', ['--debug'], env),
        run('scripts/pve/status.ts', ['--debug'], env),
        run('scripts/pve/vms.ts', ['--debug', '-o', 'json'], env),
        run('scripts/pve/templates.ts', ['--debug'], env),
        run('scripts/pve/tasks.ts', ['--debug'], env),
        run('scripts/vm/config.ts', ['--debug', '--vmid', '1002'], env),
        run('scripts/vm/config.ts', ['--debug', '--vmid', '4242'], env),
        run('scripts/pve/vms.ts', ['--debug', '--status', 'bogus'], env),
      ])
      for (const r of runs) {
        const all = r.stdout + r.stderr
        for (const form of [canary.secret, encodeURIComponent(canary.secret), Buffer.from(canary.secret).toString('base64')]) assert.ok(!all.includes(form), `leaked in:\n${all}`)
        assert.ok(!/PVEAPIToken/i.test(all))
      }
      assert.ok(runs[0].stderr.includes('[debug]'), 'debug output was on')
    } finally {
      sampling = false
      await sampler
      await sim.control.setNode('pve1', { mode: 'online' })
    }
    assert.deepEqual(seen, [])
  })
})
