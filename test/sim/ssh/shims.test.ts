// What users do over SSH on a PVE node, against the simulator through a real sshd: each command's
// output and exit code as the real CLI gives them, and the simulator's state changed accordingly.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startSimulator } from '../index.ts'
import { simApi } from '../../peers/helpers.ts'
import { startNodeSshd, sshExec, type SshServer } from './index.ts'

type Sim = Awaited<ReturnType<typeof startSimulator>>
let sim: Sim
let api: ReturnType<typeof simApi>
let ssh: SshServer
let node: string

before(async () => {
  sim = await startSimulator({ inventory: 'sandbox', timeFactor: 0.01, seed: 3 })
  api = simApi(sim)
  node = 'pve1' // holds the sandbox templates 100 and 101
  ssh = await startNodeSshd(sim, node)
})
after(async () => {
  await ssh?.stop()
  await api?.close()
  await sim?.stop()
})

async function localVms() {
  return api.call<{ vmid: number; name?: string; status: string; template?: number; maxmem?: number; maxdisk?: number }[]>('GET', `/nodes/${node}/qemu`)
}

let nextVmid = 7000
/** A new stopped VM on the test node: a full clone of the sandbox's cloud-init template 100. */
async function aStoppedVm(): Promise<number> {
  const vmid = nextVmid++
  const upid = await api.call<string>('POST', `/nodes/${node}/qemu/100/clone`, { newid: vmid, full: 1, name: `ssh-test-${vmid}` })
  assert.equal(await api.wait(upid), 'OK')
  return vmid
}

test('qm list prints this node\'s VMs in the CLI\'s fixed-width table', async () => {
  const vms = await localVms()
  const r = await sshExec(ssh, 'qm list')
  assert.equal(r.code, 0, r.stderr)
  const lines = r.stdout.split('\n').filter(Boolean)
  assert.equal(lines[0], '      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       ')
  assert.deepEqual(lines.slice(1).map((l) => Number(l.slice(0, 10))), vms.map((v) => v.vmid).sort((a, b) => a - b))
  // Perl's %-20s pads but never cuts: a longer name shifts the rest of the line.
  for (const [i, vm] of vms.sort((a, b) => a.vmid - b.vmid).entries()) {
    const [vmid, name, status, mem, disk, pid] = lines[i + 1].trim().split(/\s+/)
    assert.deepEqual([vmid, name, status, mem, disk], [String(vm.vmid), vm.name, vm.status, String((vm.maxmem ?? 0) / 1024 ** 2), ((vm.maxdisk ?? 0) / 1024 ** 3).toFixed(2)])
    assert.equal(pid === '0', vm.status !== 'running')
  }
})

test('qm config prints the configuration sorted, without the digest', async () => {
  const vmid = await aStoppedVm()
  const config = await api.call<Record<string, unknown>>('GET', `/nodes/${node}/qemu/${vmid}/config`)
  const r = await sshExec(ssh, `qm config ${vmid}`)
  assert.equal(r.code, 0, r.stderr)
  const expected = Object.keys(config)
    .filter((k) => k !== 'digest')
    .sort()
    .map((k) => `${k}: ${k === 'description' ? String(config[k]).replace(/[%:=\n]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`) : config[k]}`)
  assert.deepEqual(r.stdout.split('\n').filter(Boolean), expected)
})

test('qm set changes the simulator\'s state; bad values are refused with the usage and change nothing', async () => {
  const vmid = await aStoppedVm()
  const ok = await sshExec(ssh, `qm set ${vmid} --cores 3 --tags 'Web,db;web' --description 'set over ssh'`)
  assert.equal(ok.code, 0, ok.stderr)
  assert.equal(ok.stdout, '')
  const config = await api.call<Record<string, unknown>>('GET', `/nodes/${node}/qemu/${vmid}/config`)
  assert.equal(config.cores, 3)
  assert.equal(config.tags, 'db;web')
  assert.equal(config.description, 'set over ssh')

  const bad = await sshExec(ssh, `PM_SIM_NEGATIVE=1 qm set ${vmid} --cores lots`)
  assert.equal(bad.code, 255)
  assert.equal(bad.stderr, `400 Parameter verification failed.\ncores: type check ('integer') failed - got 'lots'\nqm set <vmid> [OPTIONS]\n`)
  assert.equal((await api.call<Record<string, unknown>>('GET', `/nodes/${node}/qemu/${vmid}/config`)).cores, 3)
})

test('a VM that is not on this node: PVE\'s message, exit 255', async () => {
  const r = await sshExec(ssh, 'qm config 999999')
  assert.equal(r.code, 255)
  assert.equal(r.stdout, '')
  assert.equal(r.stderr, `Configuration file 'nodes/${node}/qemu-server/999999.conf' does not exist\n`)
})

test('qm start/stop run the task in the foreground; a failed task exits 255 with its error', async () => {
  const vmid = await aStoppedVm()
  const start = await sshExec(ssh, `qm start ${vmid}`)
  assert.equal(start.code, 0, start.stderr)
  assert.equal((await api.call<{ status: string }>('GET', `/nodes/${node}/qemu/${vmid}/status/current`)).status, 'running')

  const again = await sshExec(ssh, `qm start ${vmid}`)
  assert.equal(again.code, 255)
  assert.equal(again.stderr, `VM ${vmid} already running\n`)

  const status = await sshExec(ssh, `qm status ${vmid}`)
  assert.equal(status.stdout, 'status: running\n')

  const stop = await sshExec(ssh, `qm stop ${vmid}`)
  assert.equal(stop.code, 0, stop.stderr)
  assert.equal((await api.call<{ status: string }>('GET', `/nodes/${node}/qemu/${vmid}/status/current`)).status, 'stopped')
})

test('qm clone prints the clone task\'s log and the new VM exists; qm template converts it', async () => {
  const vmid = await aStoppedVm()
  const newid = 7301
  const clone = await sshExec(ssh, `qm clone ${vmid} ${newid} --name ssh-clone --full 1`)
  assert.equal(clone.code, 0, clone.stderr)
  assert.match(clone.stdout, /^create full clone of drive \w+ \(/m)
  const config = await api.call<Record<string, unknown>>('GET', `/nodes/${node}/qemu/${newid}/config`)
  assert.equal(config.name, 'ssh-clone')

  const template = await sshExec(ssh, `qm template ${newid}`)
  assert.equal(template.code, 0, template.stderr)
  assert.equal((await api.call<Record<string, unknown>>('GET', `/nodes/${node}/qemu/${newid}/config`)).template, 1)

  const again = await sshExec(ssh, `qm template ${newid}`)
  assert.equal(again.code, 255)
  assert.match(again.stderr, /you can't convert a template to a template/)
})

test('pvesh get/create: any API path, JSON output, tasks followed; unknown paths refused', async () => {
  const version = await sshExec(ssh, 'pvesh get /version --output-format json')
  assert.equal(version.code, 0, version.stderr)
  assert.deepEqual(JSON.parse(version.stdout), await api.call('GET', '/version'))

  const vmid = await aStoppedVm()
  const start = await sshExec(ssh, `pvesh create /nodes/${node}/qemu/${vmid}/status/start`)
  assert.equal(start.code, 0, start.stderr)
  assert.match(start.stdout, new RegExp(`^UPID:${node}:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmstart:${vmid}:root@pam:\\n$`, 'm'))
  assert.equal((await api.call<{ status: string }>('GET', `/nodes/${node}/qemu/${vmid}/status/current`)).status, 'running')
  await sshExec(ssh, `qm stop ${vmid}`)

  const unknown = await sshExec(ssh, 'pvesh get /nodes/nonsense/x/y')
  assert.equal(unknown.code, 255)
  assert.equal(unknown.stderr, "no 'get' handler for '/nodes/nonsense/x/y'\n")
})

test('wget into a storage directory, then import-from and qm importdisk make disks of it', async () => {
  const url = 'http://127.0.0.1:9/images/debian-12-genericcloud-amd64.qcow2'
  sim.control.addUrl(url, 3 * 1024 ** 3)
  const path = '/var/lib/vz/import/debian-12.qcow2'
  const wget = await sshExec(ssh, `wget -q -O ${path} ${url}`)
  assert.deepEqual([wget.code, wget.stdout, wget.stderr], [0, '', ''])
  const content = await api.call<{ volid: string; size: number }[]>('GET', `/nodes/${node}/storage/local/content`, { content: 'import' })
  assert.equal(content.find((v) => v.volid === 'local:import/debian-12.qcow2')?.size, 3 * 1024 ** 3)

  const vmid = await aStoppedVm()
  const set = await sshExec(ssh, `qm set ${vmid} --scsi1 local-lvm:0,import-from=${path},discard=on`)
  assert.equal(set.code, 0, set.stderr)
  const scsi1 = String((await api.call<Record<string, unknown>>('GET', `/nodes/${node}/qemu/${vmid}/config`)).scsi1)
  assert.match(scsi1, new RegExp(`^local-lvm:vm-${vmid}-disk-\\d+,discard=on,size=3G$`))

  const imported = await sshExec(ssh, `qm importdisk ${vmid} ${path} local-lvm`)
  assert.equal(imported.code, 0, imported.stderr)
  const config = await api.call<Record<string, unknown>>('GET', `/nodes/${node}/qemu/${vmid}/config`)
  const unused = Object.keys(config).filter((k) => /^unused\d+$/.test(k))
  assert.equal(unused.length, 1)
  assert.equal(imported.stdout, `importing disk '${path}' to VM ${vmid} ...\n${unused[0]}: successfully imported disk '${config[unused[0]]}'\n`)

  // A file elsewhere on the node (not in a storage) is imported by path, as root does on PVE.
  sim.control.addFile(node, '/root/talos-nocloud.raw', 1024 ** 3)
  const byPath = await sshExec(ssh, `qm set ${vmid} --scsi2 local-lvm:0,import-from=/root/talos-nocloud.raw`)
  assert.equal(byPath.code, 0, byPath.stderr)

  const missing = await sshExec(ssh, `qm importdisk ${vmid} /root/nothing.qcow2 local-lvm`)
  assert.deepEqual([missing.code, missing.stderr], [255, '/root/nothing.qcow2: non-existent or non-regular file\n'])

  const notThere = await sshExec(ssh, 'wget -q -O /etc/debian.qcow2 http://127.0.0.1:9/x.qcow2')
  assert.deepEqual([notThere.code, notThere.stderr], [3, '/etc/debian.qcow2: No such file or directory\n'])
})

test('a stale lock refuses changes until qm unlock removes it', async () => {
  const vmid = await aStoppedVm()
  sim.control.setLock(vmid, 'backup')
  const refused = await sshExec(ssh, `qm set ${vmid} --cores 2`)
  assert.deepEqual([refused.code, refused.stderr], [255, 'VM is locked (backup)\n'])
  const unlock = await sshExec(ssh, `qm unlock ${vmid} && qm set ${vmid} --cores 2`)
  assert.equal(unlock.code, 0, unlock.stderr)
  const config = await api.call<Record<string, unknown>>('GET', `/nodes/${node}/qemu/${vmid}/config`)
  assert.equal(config.lock, undefined)
  assert.equal(config.cores, 2)
})

test('snapshots, pending changes and disk resize through qm; pvesh ls lists a directory', async () => {
  const vmid = await aStoppedVm()
  const snap = await sshExec(ssh, `qm snapshot ${vmid} before-upgrade --description 'first one'`)
  assert.equal(snap.code, 0, snap.stderr)
  const list = await sshExec(ssh, `qm listsnapshot ${vmid}`)
  assert.equal(list.code, 0, list.stderr)
  const lines = list.stdout.split('\n').filter(Boolean)
  assert.match(lines[0], /^`-> before-upgrade +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +first one$/)
  assert.match(lines[1], /^ {2}`-> current +You are here!$/)

  const bad = await sshExec(ssh, `qm delsnapshot ${vmid} no-such-snap`)
  assert.deepEqual([bad.code, bad.stderr], [255, "snapshot 'no-such-snap' does not exist\n"])
  const del = await sshExec(ssh, `qm delsnapshot ${vmid} before-upgrade`)
  assert.equal(del.code, 0, del.stderr)
  assert.deepEqual((await api.call<{ name: string }[]>('GET', `/nodes/${node}/qemu/${vmid}/snapshot`)).map((s) => s.name), ['current'])

  const size = String((await api.call<Record<string, unknown>>('GET', `/nodes/${node}/qemu/${vmid}/config`)).scsi0).match(/size=(\d+)G/)![1]
  // A failed resize task is reported on stderr; qm resize has no $upid_exit, so it still exits 0.
  const grow = await sshExec(ssh, `qm disk resize ${vmid} scsi0 +2G && qm resize ${vmid} scsi0 1G`)
  assert.equal(grow.code, 0, grow.stderr)
  assert.match(grow.stderr, /shrinking disks is not supported/)
  assert.match(String((await api.call<Record<string, unknown>>('GET', `/nodes/${node}/qemu/${vmid}/config`)).scsi0), new RegExp(`size=${Number(size) + 2}G`))

  // Running VM: the memory change waits in [PENDING].
  await sshExec(ssh, `qm start ${vmid}`)
  await sshExec(ssh, `qm set ${vmid} --memory 4096`)
  const pending = await sshExec(ssh, `qm pending ${vmid}`)
  assert.match(pending.stdout, /^cur memory: 2048\nnew memory: 4096$/m)
  await sshExec(ssh, `qm stop ${vmid}`)

  const ls = await sshExec(ssh, `pvesh ls /nodes/${node}/qemu/${vmid}`)
  assert.equal(ls.code, 0, ls.stderr)
  assert.match(ls.stdout, /^-rwc- {8}config$/m)
  assert.match(ls.stdout, /^Dr--- {8}status$/m)
})
