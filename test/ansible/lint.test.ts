// The Ansible content passes the bar it sets itself: ansible-lint with the production profile
// (ansible/.ansible-lint), and every playbook passes ansible-playbook --syntax-check.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { repoRoot } from '../helpers/run.ts'
import { run, VENV_BIN } from '../peers/helpers.ts'

const ANSIBLE_DIR = join(repoRoot, 'ansible')
const playbooks = readdirSync(join(ANSIBLE_DIR, 'playbooks')).filter((f) => f.endsWith('.yaml')).sort()

test('the playbooks are the four the tasks run', () => {
  assert.deepEqual(playbooks, ['ping.yaml', 'pve-servers.yaml', 'reboot-vms.yaml', 'talos-provision-vms.yaml'])
})

test('ansible-lint passes with the production profile', async () => {
  const home = mkdtempSync(join(tmpdir(), 'pm-ansible-lint-'))
  try {
    const r = await run(join(VENV_BIN, 'ansible-lint'), ['--offline', '--profile', 'production', '--nocolor'], {
      cwd: ANSIBLE_DIR,
      env: { PATH: `${VENV_BIN}:${process.env.PATH}`, ANSIBLE_HOME: join(home, 'ansible'), XDG_CACHE_HOME: join(home, 'cache') },
      timeoutMs: 600_000,
    })
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
    assert.match(r.stdout + r.stderr, /Passed: 0 failure\(s\), 0 warning\(s\)[^\n]*production/)
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
})

for (const playbook of playbooks) {
  test(`ansible-playbook --syntax-check ${playbook}`, async () => {
    const r = await run(join(VENV_BIN, 'ansible-playbook'), ['--syntax-check', '-i', 'localhost,', join('playbooks', playbook)], {
      cwd: ANSIBLE_DIR,
      env: { ANSIBLE_CONFIG: join(ANSIBLE_DIR, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1' },
    })
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
    assert.match(r.stdout, new RegExp(`playbook: playbooks/${playbook.replace('.', '\\.')}`))
  })
}
