// QEMU VM behaviour of the simulator, asserted against PVE's documented texts and rules.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { apiClient, startSimulator, type ApiClient, type Simulator } from '../helpers/sim.ts'

describe('simulator: clone', () => {
  let sim: Simulator
  let c: ApiClient
  before(async () => {
    sim = await startSimulator({ inventory: 'sandbox' })
    c = apiClient(sim)
  })
  after(() => sim.stop())

  it('links clones of a template, in parallel, with new MACs and PVE\'s default name', async () => {
    const upids = await Promise.all([2001, 2002, 2003].map((newid) => c.post('/nodes/pve1/qemu/100/clone', { newid })))
    const results = await Promise.all(upids.map((u: string) => c.wait(u)))
    for (const r of results) assert.equal(r.status.exitstatus, 'OK')
    assert.ok(results[0].log.includes('create linked clone of drive scsi0 (local-lvm:base-100-disk-1)'), results[0].log.join('\n'))
    const src = await c.get('/nodes/pve1/qemu/100/config')
    const cfg = await c.get('/nodes/pve1/qemu/2001/config')
    assert.equal(cfg.name, 'Copy-of-VM-ubuntu-2404-cloudinit')
    assert.equal(cfg.template, undefined)
    assert.notEqual(cfg.net0, src.net0)
    assert.match(cfg.net0, /^virtio=BC:24:11:[0-9A-F:]{8},bridge=vmbr0,firewall=1$/)
    assert.match(cfg.scsi0, /^local-lvm:vm-2001-disk-\d,discard=on,iothread=1,size=4G$/)
    assert.notEqual(cfg.smbios1, src.smbios1)
  })

  it('refuses linked clones of a VM that is not a template', async () => {
    const r = await c.raw('POST', '/nodes/pve2/qemu/1003/clone', { newid: 2010, full: 0 })
    assert.equal(r.status, 500)
    assert.equal(r.reason, "Linked clone feature is not supported for 'local-lvm:vm-1003-disk-0' (efidisk0)")
  })

  it('refuses cross-node clones from local storage, and storage with linked clones', async () => {
    const cross = await c.raw('POST', '/nodes/pve1/qemu/100/clone', { newid: 2011, target: 'pve2' })
    assert.equal(cross.status, 500)
    assert.equal(cross.reason, "can't clone VM to node 'pve2' (VM uses local storage)")
    const linked = await c.raw('POST', '/nodes/pve1/qemu/100/clone', { newid: 2011, storage: 'ceph' })
    assert.equal(linked.reason, "parameter 'storage' not allowed for linked clones")
  })

  it('full-clones across nodes from shared storage; the config lands on the target', async () => {
    const upid = await c.post('/nodes/pve3/qemu/1010/clone', { newid: 2012, target: 'pve1', name: 'legacy-copy' })
    const { status, log } = await c.wait(upid)
    assert.equal(status.exitstatus, 'OK')
    assert.ok(log.includes('create full clone of drive scsi0 (ceph:vm-1010-disk-1)'))
    assert.equal((await c.get('/nodes/pve1/qemu/2012/config')).name, 'legacy-copy')
    const r = await c.raw('GET', '/nodes/pve3/qemu/2012/config')
    assert.equal(r.status, 500)
  })

  it('marks the new VM lock:clone while copying and refuses work on it', async () => {
    // Slow enough (seconds of wall time) that a loaded machine cannot finish the copy between the
    // checks below; the test waits for the new VM to appear rather than sleeping a guessed time.
    await sim.control.setTimeFactor(0.1)
    try {
      const upid = await c.post('/nodes/pve2/qemu/1003/clone', { newid: 2013 })
      let res: { vmid: number; lock?: string } | undefined
      while (!(res = (await c.get('/cluster/resources', { type: 'vm' })).find((v: { vmid: number }) => v.vmid === 2013))) await new Promise((r) => setTimeout(r, 5))
      assert.equal(res.lock, 'clone')
      const busy = await c.raw('PUT', '/nodes/pve2/qemu/2013/config', { onboot: 1 })
      assert.equal(busy.status, 500)
      assert.equal(busy.reason, 'VM is locked (clone)')
      assert.equal((await c.get(`/nodes/pve2/tasks/${encodeURIComponent(upid)}/status`)).status, 'running', 'the checks above ran while the clone was copying')
      assert.equal((await c.wait(upid)).status.exitstatus, 'OK')
      assert.equal((await c.get('/nodes/pve2/qemu/2013/config')).lock, undefined)
    } finally {
      await sim.control.setTimeFactor(0.001)
    }
  })

  it('fails a second concurrent clone of a running VM on the source lock', async () => {
    await sim.control.setTimeFactor(0.05)
    try {
      const [a, b] = await Promise.all([c.post('/nodes/pve1/qemu/1000/clone', { newid: 2014 }), c.post('/nodes/pve1/qemu/1000/clone', { newid: 2015 })])
      const results = [(await c.wait(a)).status.exitstatus, (await c.wait(b)).status.exitstatus].sort()
      // As in the field reports (F01): the flock error is not wrapped in "clone failed:".
      assert.deepEqual(results, ['OK', "can't lock file '/var/lock/qemu-server/lock-1000.conf' - got timeout"].sort())
    } finally {
      await sim.control.setTimeFactor(0.001)
    }
  })

  it('refuses an existing newid synchronously', async () => {
    const r = await c.raw('POST', '/nodes/pve1/qemu/100/clone', { newid: 1000 })
    assert.equal(r.status, 500)
    assert.equal(r.reason, 'unable to create VM 1000: config file already exists')
  })

  it('refuses to clone a locked source', async () => {
    sim.control.setLock(1003, 'backup')
    try {
      const r = await c.raw('POST', '/nodes/pve2/qemu/1003/clone', { newid: 2016 })
      assert.equal(r.reason, 'VM is locked (backup)')
    } finally {
      sim.control.unlock(1003)
    }
  })
})

describe('simulator: config', () => {
  let sim: Simulator
  let c: ApiClient
  before(async () => {
    sim = await startSimulator({ inventory: 'sandbox' })
    c = apiClient(sim)
  })
  after(() => sim.stop())

  it('normalises tags: split, lower-cased, de-duplicated, sorted', async () => {
    await c.put('/nodes/pve2/qemu/1003/config', { tags: 'Web,db;Web zeta' })
    assert.equal((await c.get('/nodes/pve2/qemu/1003/config')).tags, 'db;web;zeta')
    const bad = await apiClient(sim, { negative: true }).raw('PUT', '/nodes/pve2/qemu/1003/config', { tags: 'ok,no/slash' })
    assert.equal(bad.status, 400)
    assert.equal(bad.body.errors.tags, 'invalid format - invalid characters in tag\n')
  })

  it('types config values like PVE (numbers, memory as a string) and adds a digest', async () => {
    const cfg = await c.get('/nodes/pve2/qemu/1003/config')
    assert.equal(cfg.cores, 1)
    assert.equal(cfg.memory, '1024')
    assert.match(cfg.digest, /^[0-9a-f]{40}$/)
  })

  it('refuses a stale digest with PVE\'s text', async () => {
    const { digest } = await c.get('/nodes/pve2/qemu/1003/config')
    await c.put('/nodes/pve2/qemu/1003/config', { description: 'changed', digest })
    const r = await c.raw('PUT', '/nodes/pve2/qemu/1003/config', { description: 'again', digest })
    assert.equal(r.status, 500)
    assert.equal(r.reason, 'checksum mismatch (file change by other user?)')
  })

  it('keeps non-hotpluggable changes of a running VM pending; current=1 shows the running values', async () => {
    await c.put('/nodes/pve1/qemu/1000/config', { cores: 4, name: 'web-1-renamed' })
    const cfg = await c.get('/nodes/pve1/qemu/1000/config')
    assert.equal(cfg.cores, 4)
    assert.equal(cfg.name, 'web-1-renamed')
    const current = await c.get('/nodes/pve1/qemu/1000/config', { current: 1 })
    assert.equal(current.cores, 2)
    assert.equal(current.name, 'web-1-renamed')
    const pending = await c.get('/nodes/pve1/qemu/1000/pending')
    assert.deepEqual(pending.find((p: { key: string }) => p.key === 'cores'), { key: 'cores', value: 2, pending: 4 })
    const upid = await c.post('/nodes/pve1/qemu/1000/status/reboot')
    assert.equal((await c.wait(upid)).status.exitstatus, 'OK')
    assert.equal((await c.get('/nodes/pve1/qemu/1000/config', { current: 1 })).cores, 4)
  })

  it('turns a deleted disk into unusedN and rejects unknown delete keys', async () => {
    await c.put('/nodes/pve2/qemu/1003/config', { scsi1: 'local-lvm:2' })
    const withDisk = await c.get('/nodes/pve2/qemu/1003/config')
    assert.match(withDisk.scsi1, /^local-lvm:vm-1003-disk-\d,size=2G$/)
    await c.put('/nodes/pve2/qemu/1003/config', { delete: 'scsi1' })
    const after = await c.get('/nodes/pve2/qemu/1003/config')
    assert.equal(after.scsi1, undefined)
    assert.equal(after.unused0, withDisk.scsi1.split(',')[0])
    const r = await apiClient(sim, { negative: true }).raw('PUT', '/nodes/pve2/qemu/1003/config', { delete: 'bogus' })
    assert.equal(r.status, 400)
    const both = await c.raw('PUT', '/nodes/pve2/qemu/1003/config', { delete: 'onboot', onboot: 1 })
    assert.deepEqual(both.body.errors, { delete: "you can't use '-onboot' and -delete onboot' at the same time" })
    const none = await c.raw('PUT', '/nodes/pve2/qemu/1003/config', {})
    assert.equal(none.reason, 'no options specified')
  })

  it('validates property strings with PVE\'s nested messages', async () => {
    const n = apiClient(sim, { negative: true })
    const r = await n.raw('PUT', '/nodes/pve2/qemu/1003/config', { net1: 'virtio,bridge=vmbr0,tag=5000', ipconfig1: 'gw=127.0.0.1', scsi2: 'local-lvm:1,bogus=1' })
    assert.deepEqual(r.body.errors, {
      net1: 'invalid format - format error\nnet1.tag: value must have a maximum value of 4094\n',
      ipconfig1: "invalid format - format error\nipconfig1.ip: missing property - 'ipconfig1.gw' requires this property\n",
      scsi2: 'invalid format - invalid key in comma-separated list property: bogus\n',
    })
  })

  it('answers POST config with a qmconfig task', async () => {
    const upid = await c.post('/nodes/pve2/qemu/1003/config', { onboot: 1 })
    assert.match(upid, /:qmconfig:1003:root@pam!sim:$/)
    assert.equal((await c.wait(upid)).status.exitstatus, 'OK')
    assert.equal((await c.get('/nodes/pve2/qemu/1003/config')).onboot, 1)
  })

  it('resizes grow-only in a task', async () => {
    const grow = await c.wait(await c.put('/nodes/pve2/qemu/1003/resize', { disk: 'scsi0', size: '+2G' }))
    assert.equal(grow.status.exitstatus, 'OK')
    assert.match((await c.get('/nodes/pve2/qemu/1003/config')).scsi0, /size=10G$/)
    const shrink = await c.wait(await c.put('/nodes/pve2/qemu/1003/resize', { disk: 'scsi0', size: '4G' }))
    assert.equal(shrink.status.exitstatus, 'shrinking disks is not supported')
    const missing = await c.wait(await c.put('/nodes/pve2/qemu/1003/resize', { disk: 'scsi9', size: '+1G' }))
    assert.equal(missing.status.exitstatus, "disk 'scsi9' does not exist")
  })

  it('imports only images/import volumes; a filesystem path is root@pam\'s alone, not a token\'s', async () => {
    sim.control.addFile('pve2', '/root/talos-nocloud.raw', 1024 ** 3)
    const byPath = await c.raw('PUT', '/nodes/pve2/qemu/1003/config', { scsi5: 'local-lvm:0,import-from=/root/talos-nocloud.raw' })
    assert.deepEqual([byPath.status, byPath.reason], [500, 'Only root can pass arbitrary filesystem paths.'])
    const iso = await c.raw('PUT', '/nodes/pve2/qemu/1003/config', { scsi5: 'local-lvm:0,import-from=local:iso/talos-nocloud-amd64-v1.11.5.iso' })
    assert.equal(iso.status, 400)
    assert.deepEqual(iso.body.errors, { scsi5: "local:iso/talos-nocloud-amd64-v1.11.5.iso has wrong type 'iso' - needs to be 'images' or 'import'" })
    assert.equal((await c.get('/nodes/pve2/qemu/1003/config')).scsi5, undefined, 'nothing changed')
    const ok = await c.raw('PUT', '/nodes/pve2/qemu/1003/config', { scsi5: 'local-lvm:0,import-from=local:import/noble-server-cloudimg-amd64.qcow2' })
    assert.equal(ok.status, 200, ok.text)
    assert.match((await c.get('/nodes/pve2/qemu/1003/config')).scsi5, /^local-lvm:vm-1003-disk-\d+,size=1G$/)
  })

  it('waits 10 s (simulated) for the hidden config lock, then fails with PVE\'s text', async () => {
    await sim.control.holdLock({ vmid: 1003 }, 1000)
    const r = await c.raw('PUT', '/nodes/pve2/qemu/1003/config', { description: 'x' })
    assert.equal(r.status, 500)
    assert.equal(r.reason, "can't lock file '/var/lock/qemu-server/lock-1003.conf' - got timeout")
  })

  it('requires root@pam (not a root token) for skiplock', async () => {
    const r = await c.raw('PUT', '/nodes/pve2/qemu/1003/config', { description: 'x', skiplock: 1 })
    assert.equal(r.status, 400)
    assert.deepEqual(r.body.errors, { skiplock: 'Only root may use this option.' })
  })
})

describe('simulator: power, delete, templates, snapshots', () => {
  let sim: Simulator
  let c: ApiClient
  before(async () => {
    sim = await startSimulator({ inventory: 'sandbox' })
    c = apiClient(sim)
  })
  after(() => sim.stop())

  it('fails start of a running VM in the task, and of a template', async () => {
    assert.equal((await c.wait(await c.post('/nodes/pve1/qemu/1000/status/start'))).status.exitstatus, 'VM 1000 already running')
    assert.equal((await c.wait(await c.post('/nodes/pve1/qemu/100/status/start'))).status.exitstatus, "you can't start a vm if it's a template")
  })

  it('treats stop of a stopped VM as OK and reports missing VMs in the task', async () => {
    assert.equal((await c.wait(await c.post('/nodes/pve2/qemu/1003/status/stop'))).status.exitstatus, 'OK')
    assert.equal((await c.wait(await c.post('/nodes/pve1/qemu/4444/status/stop'))).status.exitstatus, "unable to find configuration file for VM 4444 on node 'pve1'")
    assert.equal((await c.wait(await c.post('/nodes/pve1/qemu/4444/status/start'))).status.exitstatus, "Configuration file 'nodes/pve1/qemu-server/4444.conf' does not exist")
  })

  it('honours shutdown timeout and forceStop', async () => {
    sim.control.vm(1001)!.shutdownSeconds = Infinity
    const failed = await c.wait(await c.post('/nodes/pve2/qemu/1001/status/shutdown', { timeout: 5 }))
    assert.equal(failed.status.exitstatus, 'VM quit/powerdown failed - got timeout')
    const forced = await c.wait(await c.post('/nodes/pve2/qemu/1001/status/shutdown', { timeout: 5, forceStop: 1 }))
    assert.equal(forced.status.exitstatus, 'OK')
    assert.ok(forced.log.includes('VM still running - terminating now with SIGTERM'))
    assert.equal((await c.get('/nodes/pve2/qemu/1001/status/current')).status, 'stopped')
  })

  it('refuses to delete running, protected and HA-managed VMs', async () => {
    assert.equal((await c.raw('DELETE', '/nodes/pve1/qemu/1000')).reason, 'VM 1000 is running - destroy failed')
    assert.equal((await c.raw('DELETE', '/nodes/pve3/qemu/1002')).reason, "can't remove VM 1002 - protection mode enabled")
    await c.post('/cluster/ha/resources', { sid: 'vm:1003', state: 'stopped' })
    assert.equal((await c.raw('DELETE', '/nodes/pve2/qemu/1003')).reason, 'unable to remove VM 1003 - used in HA resources and purge parameter not set.')
    const { status, log } = await c.wait(await c.delete('/nodes/pve2/qemu/1003', { purge: 1, 'destroy-unreferenced-disks': 1 }))
    assert.equal(status.exitstatus, 'OK')
    assert.ok(log.includes('purging VM 1003 from related configurations..'))
    assert.equal((await c.get('/cluster/ha/resources')).length, 0)
    const vols = await c.get('/nodes/pve2/storage/local-lvm/content')
    assert.ok(!vols.some((v: { vmid?: number }) => v.vmid === 1003))
  })

  it('converts a stopped VM into a template with base- volumes, once', async () => {
    const clone = await c.wait(await c.post('/nodes/pve1/qemu/1000/clone', { newid: 3000, full: 1 }))
    assert.equal(clone.status.exitstatus, 'OK')
    const { status } = await c.wait(await c.post('/nodes/pve1/qemu/3000/template'))
    assert.equal(status.exitstatus, 'OK')
    const cfg = await c.get('/nodes/pve1/qemu/3000/config')
    assert.equal(cfg.template, 1)
    assert.match(cfg.scsi0, /^local-lvm:base-3000-disk-\d/)
    assert.equal((await c.raw('POST', '/nodes/pve1/qemu/3000/template')).reason, "you can't convert a template to a template")
    assert.equal((await c.raw('POST', '/nodes/pve1/qemu/1000/template')).reason, "you can't convert a VM to template if VM is running")
  })

  it('creates, lists, rolls back and deletes snapshots', async () => {
    const bad = await apiClient(sim, { negative: true }).raw('POST', '/nodes/pve1/qemu/1000/snapshot', { snapname: '1st' })
    assert.deepEqual(bad.body.errors, { snapname: "invalid format - invalid configuration ID '1st'\n" })
    assert.equal((await c.raw('POST', '/nodes/pve1/qemu/1000/snapshot', { snapname: 'current' })).reason, "unable to use snapshot name 'current' (reserved name)")
    assert.equal((await c.wait(await c.post('/nodes/pve1/qemu/1000/snapshot', { snapname: 'before', description: 'pre-upgrade' }))).status.exitstatus, 'OK')
    assert.equal((await c.wait(await c.post('/nodes/pve1/qemu/1000/snapshot', { snapname: 'before' }))).status.exitstatus, "snapshot name 'before' already used")
    await c.put('/nodes/pve1/qemu/1000/config', { description: 'after the snapshot' })
    const list = await c.get('/nodes/pve1/qemu/1000/snapshot')
    assert.deepEqual(list.map((s: { name: string }) => s.name), ['before', 'current'])
    assert.equal(list[1].description, 'You are here!')
    assert.equal(list[1].parent, 'before')
    const rb = await c.wait(await c.post('/nodes/pve1/qemu/1000/snapshot/before/rollback'))
    assert.equal(rb.status.exitstatus, 'OK')
    const cfg = await c.get('/nodes/pve1/qemu/1000/config')
    assert.equal(cfg.description, undefined)
    assert.equal((await c.get('/nodes/pve1/qemu/1000/status/current')).status, 'stopped', 'rollback stops a running VM')
    assert.equal((await c.wait(await c.delete('/nodes/pve1/qemu/1000/snapshot/nope'))).status.exitstatus, "snapshot 'nope' does not exist")
    assert.equal((await c.wait(await c.delete('/nodes/pve1/qemu/1000/snapshot/before'))).status.exitstatus, 'OK')
    assert.deepEqual((await c.get('/nodes/pve1/qemu/1000/snapshot')).map((s: { name: string }) => s.name), ['current'])
  })
})

describe('simulator: create permissions', () => {
  let sim: Simulator
  before(async () => {
    sim = await startSimulator({ inventory: 'sandbox' })
  })
  after(() => sim.stop())

  it('needs the VM.Config.* privilege of every setting on the new VM (check_vm_modify_config_perm)', async () => {
    const root = apiClient(sim)
    await root.post('/access/roles', { roleid: 'Creator', privs: 'VM.Allocate,VM.Config.Disk,VM.Config.Options,Datastore.AllocateSpace' })
    const token = sim.control.createToken('maker@pve', 'create', { privsep: false, userAcl: [{ path: '/', role: 'Creator' }] })
    const c = apiClient(sim, { token })
    const refused = await c.raw('POST', '/nodes/pve1/qemu', { vmid: 4200, name: 'made', cores: 2, scsi0: 'local-lvm:1' })
    assert.deepEqual([refused.status, refused.reason], [403, 'Permission check failed (/vms/4200, VM.Config.CPU)'])
    assert.equal((await root.get('/cluster/resources', { type: 'vm' })).some((v: { vmid: number }) => v.vmid === 4200), false, 'nothing was created')
    const upid = await c.post('/nodes/pve1/qemu', { vmid: 4200, name: 'made', scsi0: 'local-lvm:1' })
    assert.equal((await root.wait(upid)).status.exitstatus, 'OK')
  })
})
