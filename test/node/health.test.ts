import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runHealthChecks, coveredBy, type HealthGuest, type HealthInput } from '../../scripts/lib/node/health.ts'

const GiB = 1024 ** 3
const now = 1_800_000_000
const guest = (vmid: number, extra: Partial<HealthGuest> = {}): HealthGuest => ({
  vmid,
  node: 'pve1',
  status: 'running',
  template: false,
  maxmem: 2 * GiB,
  maxcpu: 2,
  config: { onboot: 1, scsi0: 'ceph:vm-' + vmid + '-disk-0,size=8G' },
  ...extra,
})
const base = (over: Partial<HealthInput>): HealthInput => ({
  nodes: [
    { name: 'pve1', online: true, maxmem: 16 * GiB, maxcpu: 8 },
    { name: 'pve2', online: true, maxmem: 16 * GiB, maxcpu: 8 },
  ],
  guests: [],
  sharedStorages: new Set(['ceph']),
  backupJobs: [{ id: 'daily', all: 1 }],
  lastBackup: new Map(),
  now,
  policy: { cpuFactor: 4, memWarn: 0.9, backupMaxAgeDays: 7 },
  ...over,
})
const bad = (fs: ReturnType<typeof runHealthChecks>) => fs.filter((f) => f.severity !== 'OK').map((f) => `${f.severity} ${f.check} ${f.subject}`)

test('a healthy cluster reports one OK line per check', () => {
  const fs = runHealthChecks(base({ guests: [guest(100)], lastBackup: new Map([[100, now - 3600]]) }))
  assert.deepEqual(bad(fs), [])
  assert.ok(fs.every((f) => f.severity === 'OK'))
})

test('each problem is found with its severity', () => {
  const guests = [
    guest(100, { hastate: 'started', config: { scsi0: 'local-lvm:vm-100-disk-0,size=8G', cpu: 'host' } }),
    guest(101, { config: { onboot: 0, scsi0: 'ceph:vm-101-disk-0' } }),
    guest(102, { status: 'stopped', config: { onboot: 1, scsi0: 'ceph:vm-102-disk-0', unused0: 'ceph:vm-102-disk-1' } }),
    guest(103, { node: 'pve2', maxmem: 17 * GiB, maxcpu: 40 }),
    guest(104, { template: true, status: 'stopped', config: { unused0: 'ceph:base-104-disk-1' } }),
  ]
  const fs = runHealthChecks(
    base({
      nodes: [...base({}).nodes, { name: 'pve3', online: false, maxmem: 16 * GiB, maxcpu: 8 }],
      guests,
      backupJobs: [{ id: 'weekly', vmid: '100,101,102,103' , enabled: 1 }, { id: 'off', all: 1, enabled: 0 }],
      lastBackup: new Map([[100, now - 30 * 86400], [101, now - 3600]]),
    }),
  )
  assert.deepEqual(bad(fs), [
    'CRIT nodes pve3',
    'CRIT ha-local-disks VM 100',
    'WARN ha-cpu-host VM 100',
    'CRIT memory-overcommit pve2',
    'WARN cpu-overcommit pve2',
    'WARN onboot VM 101',
    'WARN onboot VM 102',
    'WARN unused-disks VM 102',
    'WARN backup-age VM 100',
    'WARN backup-age VM 102',
    'WARN backup-age VM 103',
  ])
})

test('backup job selection: all with exclusions, explicit lists, pools, node restriction, disabled jobs', () => {
  const g = guest(100, { pool: 'prod' })
  assert.equal(coveredBy(g, [{ id: 'a', all: 1, exclude: '100,101' }]), undefined)
  assert.equal(coveredBy(g, [{ id: 'a', all: 1, node: 'pve2' }]), undefined)
  assert.equal(coveredBy(g, [{ id: 'a', vmid: '100', enabled: 0 }]), undefined)
  assert.equal(coveredBy(g, [{ id: 'p', pool: 'prod' }])?.id, 'p')
  assert.equal(coveredBy(g, [{ id: 'l', vmid: '99,100' }])?.id, 'l')
})

test('unreadable backup jobs are a warning, not a crash', () => {
  const fs = runHealthChecks(base({ guests: [guest(100)], backupJobs: undefined, backupJobsError: '403 Permission check failed (/, Sys.Audit)' }))
  assert.deepEqual(bad(fs), ['WARN backup-coverage -'])
  assert.match(fs.find((f) => f.check === 'backup-coverage')!.message, /Sys\.Audit/)
})
