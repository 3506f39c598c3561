// The host roles, applied for real by pve-servers.yaml to a Debian bookworm root (debootstrap,
// cached) through Ansible's chroot connection: the first run configures, the second changes
// nothing, the files are what a PVE host needs, and `ansible:drift` (scripts/ansible/drift.ts)
// reports a change made by hand, and nothing else.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { repoRoot, runScript } from '../helpers/run.ts'
import { run, VENV_BIN } from '../peers/helpers.ts'
import { freshDebianRoot, wheelhouse } from './debian-root.ts'

const HOST = 'pve-chroot'
let root: string
let work: string
let inventory: string

before(() => {
  root = freshDebianRoot()
  work = mkdtempSync(join(tmpdir(), 'pm-host-roles-'))
  // What a PVE host has and a bare Debian lacks: the cluster file system's directories and
  // Proxmox's archive key (a stand-in file: the test never refreshes the package lists).
  mkdirSync(join(root, 'etc/pve/priv'), { recursive: true })
  mkdirSync(join(root, 'etc/pve/local'), { recursive: true })
  mkdirSync(join(root, 'run/network'), { recursive: true }) // ifupdown2's lock directory (a tmpfs on a booted host)
  writeFileSync(join(root, 'etc/apt/trusted.gpg.d/proxmox-release-bookworm.gpg'), 'stand-in for the Proxmox archive key\n')
  writeFileSync(join(root, 'etc/apt/sources.list.d/pve-enterprise.list'), 'deb https://enterprise.proxmox.com/debian/pve bookworm pve-enterprise\n')
  // The PVE exporter from a wheelhouse: the chroot has no route to PyPI.
  const defaults = parse(readFileSync(join(repoRoot, 'ansible/roles/monitoring/defaults/main.yml'), 'utf8'))
  cpSync(wheelhouse(join(VENV_BIN, 'pip'), `prometheus-pve-exporter==${defaults.monitoring_pve_exporter_version}`), join(root, 'srv/wheels'), { recursive: true })

  // A throwaway certificate for the certificates role (checked against its key on the controller).
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', '/CN=pve01.example.net', '-keyout', join(work, 'key.pem'), '-out', join(work, 'cert.pem')], { stdio: 'ignore' })
  const vars = {
    ...parse(readFileSync(join(import.meta.dirname, 'fixtures/pve-host-vars.yml'), 'utf8')),
    certificates_pveproxy_cert: readFileSync(join(work, 'cert.pem'), 'utf8'),
    certificates_pveproxy_key: readFileSync(join(work, 'key.pem'), 'utf8'),
    monitoring_pve_exporter_pip_extra_args: '--no-index --find-links /srv/wheels',
    ansible_connection: 'community.general.chroot',
    ansible_host: root,
    ansible_python_interpreter: '/usr/bin/python3',
    ansible_become: false, // already root inside the chroot
  }
  inventory = join(work, 'inventory.yml')
  writeFileSync(inventory, stringify({ all: { children: { pve: { hosts: { [HOST]: vars } } } } }))
})

after(() => {
  if (root) rmSync(root, { recursive: true, force: true })
  if (work) rmSync(work, { recursive: true, force: true })
})

const ansibleEnv = () => ({
  ANSIBLE_CONFIG: join(repoRoot, 'ansible/ansible.cfg'),
  ANSIBLE_HOME: join(work, 'ansible-home'),
  ANSIBLE_LOCAL_TEMP: join(work, 'ansible-tmp'),
  ANSIBLE_NOCOLOR: '1',
})

async function apply() {
  const r = await run(join(VENV_BIN, 'ansible-playbook'), ['-i', inventory, join(repoRoot, 'ansible/playbooks/pve-servers.yaml')], { cwd: join(repoRoot, 'ansible'), env: { ...ansibleEnv(), ANSIBLE_STDOUT_CALLBACK: 'ansible.posix.json' }, timeoutMs: 600_000 })
  const start = r.stdout.search(/^\{/m)
  assert.ok(start >= 0, `no JSON report (exit ${r.code}):\n${r.stderr}\n${r.stdout}`)
  const report = JSON.parse(r.stdout.slice(start))
  const failures = report.plays.flatMap((p: any) => p.tasks.flatMap((t: any) => Object.values(t.hosts).filter((h: any) => h.failed).map((h: any) => `${t.task.name}: ${h.msg}`)))
  assert.deepEqual(failures, [], r.stderr)
  assert.equal(r.code, 0, r.stderr)
  return report.stats[HOST] as { ok: number; changed: number; failures: number }
}

const file = (path: string) => readFileSync(join(root, path), 'utf8')

test('pve-servers.yaml configures a Debian bookworm root, and a second run changes nothing', async () => {
  const first = await apply()
  assert.ok(first.changed >= 10, `the first run configures (changed ${first.changed})`)
  const second = await apply()
  assert.equal(second.changed, 0, 'idempotent: 0 changed on the second run')
  assert.ok(second.ok >= first.ok - first.changed)

  const interfaces = file('etc/network/interfaces')
  assert.match(interfaces, /^auto vmbr0\niface vmbr0 inet static\n\taddress 192\.0\.2\.11\/24\n\tgateway 192\.0\.2\.1\n\tbridge-ports eno1\n/m)
  assert.match(interfaces, /^iface vmbr1 inet manual\n\tbridge-ports eno2 eno3\n\tbridge-stp off\n\tbridge-fd 0\n\tbridge-vlan-aware yes\n\tbridge-vids 2-4094\n/m)
  assert.match(interfaces, /^iface eno2 inet manual\n\tmtu 9000$/m)
  assert.match(interfaces, /^source \/etc\/network\/interfaces\.d\/\*$/m)

  assert.match(file('etc/apt/sources.list.d/proxmox.sources'), /^URIs: http:\/\/download\.proxmox\.com\/debian\/pve\nSuites: bookworm\nComponents: pve-no-subscription\n[^]*^Enabled: yes$/m)
  assert.match(file('etc/apt/sources.list.d/pve-enterprise.sources'), /^Components: pve-enterprise$[^]*^Enabled: no$/m, 'no subscription: enterprise disabled')
  assert.match(file('etc/apt/sources.list.d/ceph.sources'), /^URIs: http:\/\/download\.proxmox\.com\/debian\/ceph-reef\n[^]*^Components: no-subscription$/m)
  assert.ok(!existsSync(join(root, 'etc/apt/sources.list.d/pve-enterprise.list')), 'the one-line .list duplicate is gone')

  const chrony = file('etc/chrony/chrony.conf')
  assert.match(chrony, /^server ntp1\.example\.net iburst\nserver ntp2\.example\.net iburst$/m)
  assert.doesNotMatch(chrony, /^pool /m)
  assert.match(chrony, /^allow 192\.0\.2\.0\/24$/m)

  const passwd = file('etc/passwd')
  assert.match(passwd, /^alice:x:\d+:\d+:Alice Admin:\/home\/alice:\/bin\/bash$/m)
  assert.match(passwd, /^carol:x:\d+:\d+::\/home\/carol:\/bin\/sh$/m)
  assert.match(file('etc/group'), /^pveadmins:x:2500:alice,bob$/m)
  assert.match(file('home/alice/.ssh/authorized_keys'), /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJd7G0pl0d2c5rQxI3nqIY3KjQ6ZJ0v1YQ6n3kCqXh9L alice@laptop$/m)
  assert.equal(statSync(join(root, 'home/alice/.ssh')).mode & 0o777, 0o700)

  assert.match(file('etc/sudoers.d/alice'), /^alice ALL=\(ALL:ALL\) ALL$/m)
  assert.match(file('etc/sudoers.d/bob'), /^bob ALL=\(root\) NOPASSWD: \/usr\/sbin\/qm, \/usr\/sbin\/pct$/m)
  assert.ok(!existsSync(join(root, 'etc/sudoers.d/carol')))
  assert.equal(statSync(join(root, 'etc/sudoers.d/alice')).mode & 0o777, 0o440)
  execFileSync('chroot', [root, 'visudo', '-c'], { stdio: 'pipe' }) // the whole sudoers tree parses

  assert.equal(file('etc/pve/local/pveproxy-ssl.pem'), readFileSync(join(work, 'cert.pem'), 'utf8'))
  assert.equal(statSync(join(root, 'etc/pve/local/pveproxy-ssl.key')).mode & 0o777, 0o640)
  assert.match(file('etc/pve/notifications.cfg'), /^gotify: ops-gotify\n\tserver https:\/\/gotify\.example\.net$/m)
  assert.doesNotMatch(file('etc/pve/notifications.cfg'), /test-only-gotify-token/, 'secrets only in priv/')
  assert.match(file('etc/pve/priv/notifications.cfg'), /^gotify: ops-gotify\n\ttoken test-only-gotify-token$/m)
  assert.match(file('etc/prometheus/pve.yml'), /token_value: "00000000-test-only-0000-000000000000"/)
  assert.ok(existsSync(join(root, 'opt/prometheus-pve-exporter/bin/pve_exporter')))
  assert.match(file('etc/letsencrypt/renewal-hooks/deploy/pveproxy.sh'), /pveproxy-ssl\.pem/)
})

test('ansible:drift reports a change made by hand, on that host and role only', async () => {
  appendFileSync(join(root, 'etc/chrony/chrony.conf'), 'server rogue.example.net iburst\n')
  const r = await runScript('scripts/ansible/drift.ts', ['--output', 'json', '--', '-i', inventory], {
    env: { ...ansibleEnv(), PVE_CONFIG: join(repoRoot, 'cluster-config.yaml') },
    timeoutMs: 600_000,
  })
  assert.equal(r.code, 8, `exit 8 on drift:\n${r.stderr}\n${r.stdout}`)
  const hosts = JSON.parse(r.stdout)
  assert.deepEqual(hosts, [{ host: HOST, status: 'drift', changes: [{ task: 'ntp : Write the chrony configuration', items: [], files: ['/etc/chrony/chrony.conf'] }], errors: [] }])
  assert.match(file('etc/chrony/chrony.conf'), /rogue/, 'check mode changed nothing')
})

test('bad role data is refused by the preflights, naming the problem, before anything is written', async () => {
  const interfaces = file('etc/network/interfaces')
  const attempt = async (extra: Record<string, unknown>) => {
    const r = await run(join(VENV_BIN, 'ansible-playbook'), ['-i', inventory, '-e', JSON.stringify(extra), join(repoRoot, 'ansible/playbooks/pve-servers.yaml')], { cwd: join(repoRoot, 'ansible'), env: ansibleEnv(), timeoutMs: 300_000 })
    assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`)
    return r.stdout
  }
  const twoMgmt = [
    { name: 'vmbr0', type: 'mgmt', ports: ['eno1'], address: '192.0.2.11/24', gateway: '192.0.2.1' },
    { name: 'vmbr9', type: 'mgmt', ports: ['eno9'], address: '192.0.2.12/24', gateway: '192.0.2.1' },
  ]
  assert.match(await attempt({ pve_host_roles: ['network'], network_bridges: twoMgmt }), /exactly one bridge with type 'mgmt'[^]*found \['vmbr0', 'vmbr9'\]/)
  assert.match(await attempt({ pve_host_roles: ['network', 'firewall'] }), /pve_host_roles \(ansible\.roles in cluster-config\.yaml\) must list roles from network, repositories/)
  assert.equal(file('etc/network/interfaces'), interfaces, 'nothing was written')
})
