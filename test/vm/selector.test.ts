import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseSelector, selectVms, requireSelection, assertSelectorAllowed, type SelectableVm } from '../../scripts/lib/selector.ts'
import { RefusedError, UsageError, NotFoundError } from '../../scripts/lib/errors.ts'

const vms: SelectableVm[] = [
  { vmid: 100, name: 'tpl-debian', node: 'pve1', status: 'stopped', template: 1, tags: 'template' },
  { vmid: 1001, name: 'web-1', node: 'pve1', status: 'running', tags: 'prod;web' },
  { vmid: 1002, name: 'web-2', node: 'pve2', status: 'running', tags: 'prod;web;keep' },
  { vmid: 1003, name: 'db-1', node: 'pve2', status: 'stopped', tags: 'db;prod', pool: 'data' },
  { vmid: 1004, name: 'scratch', node: 'pve3', status: 'stopped' },
  { vmid: 1005, name: 'Web-3', node: 'pve3', status: 'running', tags: 'staging;web', pool: 'data' },
]
const ids = (s: string, all = false) => selectVms(parseSelector(s), vms, { all }).vms.map((v) => v.vmid)

test('ids and ranges are alternatives', () => {
  assert.deepEqual(ids('1001,1003'), [1001, 1003])
  assert.deepEqual(ids('1002:1004'), [1002, 1003, 1004])
  assert.deepEqual(ids('1001 1004'), [1001, 1004])
})

test('repeated @tag terms mean AND; other filters of one kind mean OR', () => {
  assert.deepEqual(ids('@tag-web'), [1001, 1002, 1005])
  assert.deepEqual(ids('@tag-web,@tag-prod'), [1001, 1002])
  assert.deepEqual(ids('@node-pve2,@node-pve3'), [1002, 1003, 1004, 1005])
  assert.deepEqual(ids('@tag-web,@node-pve1'), [1001])
  assert.deepEqual(ids('@pool-data'), [1003, 1005])
  assert.deepEqual(ids('@status-running,@tag-prod'), [1001, 1002])
})

test('tags compare case-insensitively', () => {
  assert.deepEqual(ids('@tag-WEB,@tag-Prod'), [1001, 1002])
})

test('name globs and exact names (case-insensitive)', () => {
  assert.deepEqual(ids('web-*'), [1001, 1002, 1005])
  assert.deepEqual(ids('db-1'), [1003])
  assert.deepEqual(ids('web-?'), [1001, 1002, 1005])
})

test('exclusions remove VMs, including by tag', () => {
  assert.deepEqual(ids('@tag-web,-1001'), [1002, 1005])
  assert.deepEqual(ids('@tag-prod,-@tag-keep'), [1001, 1003])
  assert.deepEqual(ids('1001:1005,-@node-pve3,-db-*'), [1001, 1002])
})

test('templates are never selected, even by id, and are reported', () => {
  const sel = selectVms(parseSelector('100,1001'), vms)
  assert.deepEqual(sel.vms.map((v) => v.vmid), [1001])
  assert.deepEqual(sel.skippedTemplates.map((v) => v.vmid), [100])
  assert.deepEqual(ids('@tag-template'), [])
})

test('the empty selector is refused unless --all', () => {
  for (const s of ['', '   ', ' , ']) assert.throws(() => assertSelectorAllowed(parseSelector(s)), RefusedError)
  assert.deepEqual(ids('', true), [1001, 1002, 1003, 1004, 1005])
})

test('match-everything selectors are refused unless --all', () => {
  for (const s of ['*', '@all', '@ALL', '**', '-1001']) assert.throws(() => ids(s), RefusedError, s)
  assert.deepEqual(ids('-1001', true), [1002, 1003, 1004, 1005])
  // a filter that happens to match every VM is refused too
  assert.throws(() => ids('@node-pve1,@node-pve2,@node-pve3'), /matches every VM/)
  assert.throws(() => ids('1000:2000'), /matches every VM/)
  // ...but naming every VM explicitly is a deliberate choice
  assert.deepEqual(ids('1001,1002,1003,1004,1005'), [1001, 1002, 1003, 1004, 1005])
})

test('bad terms are usage errors that name the term', () => {
  assert.throws(() => parseSelector('99'), (e: Error) => e instanceof UsageError && /'99'/.test(e.message))
  assert.throws(() => parseSelector('110:100'), /reversed/)
  assert.throws(() => parseSelector('@tag-bad!'), /invalid tag/)
  assert.throws(() => parseSelector('@colour-red'), /unknown filter/)
  assert.throws(() => parseSelector('@status-sleeping'), /unknown status/)
  assert.throws(() => parseSelector('-'), /exclusion needs a term/)
  assert.throws(() => parseSelector('a/b'), /not an id/)
})

test('explicit ids that do not exist are named', () => {
  assert.throws(() => requireSelection(parseSelector('1001,4242'), vms), (e: Error) => e instanceof NotFoundError && /4242/.test(e.message))
  assert.deepEqual(requireSelection(parseSelector('1001'), vms).vms.map((v) => v.vmid), [1001])
})

test('containers are not VMs', () => {
  const mixed = [...vms, { vmid: 2000, name: 'ct', node: 'pve1', type: 'lxc' }]
  assert.deepEqual(selectVms(parseSelector('2000,1001'), mixed).vms.map((v) => v.vmid), [1001])
})
