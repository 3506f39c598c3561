// The shims' PVE CLI machinery in isolation: Getopt::Long-style option parsing driven by the API
// schema (PVE::JSONSchema::get_options) and PVE::CLIFormatter's output.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { getOptions, PveError } from './shims/cli.ts'
import { formatApiResult, standardOutputOptions } from './shims/format.ts'
import { methodInfo } from './shims/apidoc.ts'

const tokenAdd = methodInfo('POST', '/access/users/{userid}/token/{tokenid}')!
const props = { ...tokenAdd.info.parameters.properties, ...standardOutputOptions }

function parse(argv: string[]) {
  const errs: string[] = []
  try {
    return { params: getOptions(props, argv, ['userid', 'tokenid'], {}, (s) => errs.push(s)), errs }
  } catch (e) {
    return { error: (e as PveError).render(), errs }
  }
}

test('booleans take an optional value, `-` or `--`, `=` or a separate word', () => {
  assert.deepEqual(parse(['u@pve', 'ci', '--privsep', '0']).params, { userid: 'u@pve', tokenid: 'ci', privsep: 0 })
  assert.deepEqual(parse(['u@pve', 'ci', '-privsep']).params, { userid: 'u@pve', tokenid: 'ci', privsep: 1 })
  assert.deepEqual(parse(['--privsep=no', 'u@pve', 'ci']).params, { userid: 'u@pve', tokenid: 'ci', privsep: 0 })
  // A boolean does not swallow the next option.
  assert.deepEqual(parse(['u@pve', 'ci', '--privsep', '--comment', 'x y']).params, { userid: 'u@pve', tokenid: 'ci', privsep: 1, comment: 'x y' })
})

test('unique prefixes expand, ambiguous and unknown ones fail like Getopt::Long', () => {
  assert.equal(parse(['u@pve', 'ci', '--output', 'json']).params?.['output-format'], 'json')
  const unknown = parse(['u@pve', 'ci', '--colour'])
  assert.deepEqual(unknown.errs, ['Unknown option: colour\n'])
  assert.equal(unknown.error, '400 unable to parse option\n')
  const ambiguous = parse(['u@pve', 'ci', '--no'])
  assert.deepEqual(ambiguous.errs, ['Option no is ambiguous (noborder, noheader)\n'])
})

test('positional arguments: missing, extra, and `--` ends the options', () => {
  assert.equal(parse(['u@pve']).error, '400 not enough arguments\n')
  assert.equal(parse(['u@pve', 'ci', 'extra']).error, '400 too many arguments\n')
  assert.deepEqual(parse(['--', 'u@pve', '-odd']).params, { userid: 'u@pve', tokenid: '-odd' })
})

test('-list options may repeat and are joined with commas', () => {
  const acl = methodInfo('PUT', '/access/acl')!.info.parameters.properties
  const params = getOptions(acl, ['/vms', '--roles', 'PVEVMUser', '--users', 'a@pve', '--users', 'b@pve'], ['path'], { delete: 0 }, () => {})
  assert.deepEqual(params, { path: '/vms', roles: 'PVEVMUser', users: 'a@pve,b@pve', delete: 0 })
})

test('json output: compact, keys sorted at every level, one line', () => {
  const data = { value: 'e9b5', info: { privsep: 0, comment: 'c' }, 'full-tokenid': 'u@pve!ci' }
  assert.equal(formatApiResult(data, tokenAdd.info.returns, { 'output-format': 'json' }), '{"full-tokenid":"u@pve!ci","info":{"comment":"c","privsep":0},"value":"e9b5"}\n')
  assert.equal(formatApiResult(data, tokenAdd.info.returns, { 'output-format': 'json', quiet: 1 }), '')
})

test('text output: an object becomes a key/value table, bordered in UTF-8 terminals', () => {
  const saved = process.env.LANG
  process.env.LANG = 'C.UTF-8'
  try {
    const text = formatApiResult({ 'full-tokenid': 'u@pve!ci', info: { privsep: 0 }, value: 'abc' }, tokenAdd.info.returns, {})
    assert.equal(
      text,
      [
        '┌──────────────┬───────────────┐',
        '│ key          │ value         │',
        '├──────────────┼───────────────┤',
        '│ full-tokenid │ u@pve!ci      │',
        '├──────────────┼───────────────┤',
        '│ info         │ {"privsep":0} │',
        '├──────────────┼───────────────┤',
        '│ value        │ abc           │',
        '└──────────────┴───────────────┘',
        '',
      ].join('\n'),
    )
    process.env.LANG = 'C'
    const ascii = formatApiResult([{ roleid: 'B', privs: 'VM.Audit' }, { roleid: 'A', privs: '' }], { type: 'array', items: { type: 'object', properties: { roleid: { type: 'string' }, privs: { type: 'string', optional: 1 } } } }, { noborder: 1 })
    assert.equal(ascii, 'roleid privs\nA      \nB      VM.Audit\n')
  } finally {
    process.env.LANG = saved
  }
})

test('indexed options (scsi1, net0) resolve through the schema\'s scsi[n] and net[n]', () => {
  const config = methodInfo('PUT', '/nodes/{node}/qemu/{vmid}/config')!.info.parameters.properties
  const params = getOptions(config, ['100', '--scsi1', 'local-lvm:0,import-from=/x.qcow2', '--net0=virtio,bridge=vmbr0'], ['vmid'], { node: 'pve1' }, () => {})
  assert.deepEqual(params, { vmid: '100', scsi1: 'local-lvm:0,import-from=/x.qcow2', net0: 'virtio,bridge=vmbr0', node: 'pve1' })
})
