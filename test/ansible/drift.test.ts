// The drift summary read from ansible.posix.json reports (the shape ansible-core 2.19 prints).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatDrift, parseJsonReport, summarizeDrift } from '../../scripts/lib/ansible/drift.ts'

const report = {
  plays: [
    {
      tasks: [
        {
          task: { name: 'ntp : Write the chrony configuration' },
          hosts: {
            pve01: { changed: true, diff: [{ before_header: '/etc/chrony/chrony.conf', after_header: '/tmp/ansible-local-1/chrony.conf.j2', before: 'a', after: 'b' }] },
            pve02: { changed: false },
            pve03: { unreachable: true, msg: 'Failed to connect to the host via ssh' },
          },
        },
        {
          task: { name: 'usermgmt : Grant sudo through one drop-in file per user' },
          hosts: {
            pve01: { changed: false, results: [{ changed: false, _ansible_item_label: 'alice' }] },
            pve02: { changed: true, results: [{ changed: true, _ansible_item_label: 'bob', diff: { before_header: '/etc/sudoers.d/bob' } }, { changed: false, item: { name: 'alice' } }] },
          },
        },
        { task: { name: 'certbot : Check the ACME settings' }, hosts: { pve04: { failed: true, msg: 'certbot needs certbot_domains' } } },
      ],
    },
  ],
  stats: {
    pve01: { changed: 1, failures: 0, unreachable: 0, ok: 3 },
    pve02: { changed: 1, failures: 0, unreachable: 0, ok: 3 },
    pve03: { changed: 0, failures: 0, unreachable: 1, ok: 0 },
    pve04: { changed: 0, failures: 1, unreachable: 0, ok: 1 },
    pve05: { changed: 0, failures: 0, unreachable: 0, ok: 9 },
  },
}

test('per host: what would change (loop items, files on the host), failures, unreachable, in sync', () => {
  const stdout = `[WARNING]: a warning printed before the report\n${JSON.stringify(report, null, 2)}\n`
  const hosts = summarizeDrift(parseJsonReport(stdout))
  assert.deepEqual(hosts, [
    { host: 'pve01', status: 'drift', changes: [{ task: 'ntp : Write the chrony configuration', items: [], files: ['/etc/chrony/chrony.conf'] }], errors: [] },
    { host: 'pve02', status: 'drift', changes: [{ task: 'usermgmt : Grant sudo through one drop-in file per user', items: ['bob'], files: ['/etc/sudoers.d/bob'] }], errors: [] },
    { host: 'pve03', status: 'unreachable', changes: [], errors: ['ntp : Write the chrony configuration: Failed to connect to the host via ssh'] },
    { host: 'pve04', status: 'failed', changes: [], errors: ['certbot : Check the ACME settings: certbot needs certbot_domains'] },
    { host: 'pve05', status: 'in sync', changes: [], errors: [] },
  ])
  assert.deepEqual(formatDrift(hosts), [
    'pve01: drift (1 change)',
    '  ~ ntp : Write the chrony configuration: /etc/chrony/chrony.conf',
    'pve02: drift (1 change)',
    '  ~ usermgmt : Grant sudo through one drop-in file per user: bob, /etc/sudoers.d/bob',
    'pve03: unreachable',
    '  ! ntp : Write the chrony configuration: Failed to connect to the host via ssh',
    'pve04: failed',
    '  ! certbot : Check the ACME settings: certbot needs certbot_domains',
    'pve05: in sync',
  ])
})

test('no report at all is an error, not "in sync"', () => {
  assert.throws(() => parseJsonReport('ERROR! the playbook could not be found\n'), /no JSON report/)
})
