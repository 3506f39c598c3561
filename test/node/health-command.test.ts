// pve:node:health against the simulator: what PVE reports becomes findings, and the exit code
// says whether something is critical (8) or, with --strict, whether anything is wrong at all.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { apiClient, startSimulator, type Simulator } from '../helpers/sim.ts'
import { runScript } from '../helpers/run.ts'

let sim: Simulator
let env: Record<string, string>

before(async () => {
  sim = await startSimulator({
    timeFactor: 0.002,
    inventory: {
      nodes: 2,
      vms: [
        { vmid: 4000, node: 'pve1', name: 'local-disk', running: true, memory: 2048, disks: [8], storage: 'local-lvm' },
        { vmid: 4001, node: 'pve2', name: 'shared-disk', running: true, memory: 2048, disks: [8], storage: 'ceph' },
      ],
    },
  })
  const dir = await mkdtemp(join(tmpdir(), 'pm-health-'))
  env = { ...sim.env(), PVE_CONFIG: sim.writeClusterConfig(join(dir, 'cluster-config.yaml')) }
})
after(() => sim.stop())

type Finding = { check: string; severity: string; subject: string; message: string }
const health = async (args: string[] = []) => {
  const r = await runScript('scripts/node/health.ts', ['--output', 'json', ...args], { env })
  return { ...r, findings: (r.stdout ? JSON.parse(r.stdout) : []) as Finding[] }
}

test('warnings alone exit 0 (8 with --strict); an HA guest on local disks is critical', async () => {
  let r = await health()
  assert.equal(r.code, 0, r.stderr)
  assert.ok(!r.findings.some((f) => f.severity === 'CRIT'), JSON.stringify(r.findings))
  const warnings = r.findings.filter((f) => f.severity === 'WARN')
  assert.ok(warnings.some((f) => f.check === 'onboot' && /4000/.test(f.subject)), JSON.stringify(r.findings))
  r = await health(['--strict'])
  assert.equal(r.code, 8)

  const api = apiClient(sim)
  await api.post('/cluster/ha/resources', { sid: 'vm:4000', state: 'started' })
  await api.post('/cluster/ha/resources', { sid: 'vm:4001', state: 'started' })
  r = await health()
  assert.equal(r.code, 8, r.stderr)
  const crit = r.findings.filter((f) => f.severity === 'CRIT')
  assert.deepEqual(crit.map((f) => f.check), ['ha-local-disks'])
  assert.match(crit[0].subject, /4000/)
  assert.match(crit[0].message, /local-lvm:vm-4000-disk-0/)
  assert.match(r.stderr, /1 critical/)
})

test('backup coverage is read from the cluster\'s scheduled jobs', async () => {
  sim.control.addBackupJob({ id: 'backup-shared', schedule: '21:00', vmid: '4001', storage: 'local' })
  const { code, findings, stderr } = await health()
  assert.equal(code, 8, stderr) // the HA guest on local disks above stays critical
  const uncovered = findings.filter((f) => f.check === 'backup-coverage').map((f) => f.subject)
  assert.ok(uncovered.some((s) => /4000/.test(s)), JSON.stringify(findings))
  assert.ok(!uncovered.some((s) => /4001/.test(s)), JSON.stringify(findings))
})
