// `pveum` on a simulated PVE node: PVE::CLI::pveum's users, tokens, groups, roles, ACLs and pools,
// each the API method the real CLI calls, printed through PVE::CLIFormatter.
import { apiCommand, runCli, type Context, type Params, type Tree } from './cli.ts'
import { formatApiResult, standardOutputOptions } from './format.ts'
import type { MethodInfo } from './apidoc.ts'

const print = (ctx: Context, result: unknown, fmt: Params, info?: MethodInfo) => ctx.out(formatApiResult(result, info?.returns, fmt))

const listed = (group: string, method: string, path: string, args: string[]) =>
  apiCommand(method, path, args, { group, formatterOptions: standardOutputOptions, output: print })
const plain = (group: string, method: string, path: string, args: string[], fixed?: Record<string, string | number>) => apiCommand(method, path, args, { group, fixed })

/** `pveum user permissions`: a path → privileges table in text mode, the raw object otherwise. */
function printPermissions(ctx: Context, result: unknown, fmt: Params, info?: MethodInfo) {
  const format = (fmt['output-format'] as string | undefined) ?? 'text'
  if (format !== 'text') return print(ctx, result, fmt, info)
  const data = result as Record<string, Record<string, number>>
  const rows = Object.keys(data)
    .sort()
    .map((path) => ({
      path,
      permissions: Object.keys(data[path])
        .sort()
        .map((perm) => `${perm}${data[path][perm] ? ' (*)' : ''}`)
        .join('\n'),
    }))
  const schema = { type: 'array', items: { type: 'object', properties: { path: { type: 'string', title: 'ACL path' }, permissions: { type: 'string', title: 'Permissions' } } } }
  ctx.out(formatApiResult(rows, schema, fmt))
  ctx.out("Permissions marked with '(*)' have the 'propagate' flag set.\n")
}

const U = 'PVE::API2::User'
const tree: Tree = {
  user: {
    add: plain(U, 'POST', '/access/users', ['userid']),
    modify: plain(U, 'PUT', '/access/users/{userid}', ['userid']),
    delete: plain(U, 'DELETE', '/access/users/{userid}', ['userid']),
    list: listed(U, 'GET', '/access/users', []),
    permissions: apiCommand('GET', '/access/permissions', ['userid'], { group: 'PVE::API2::AccessControl', formatterOptions: standardOutputOptions, output: printPermissions }),
    token: {
      add: listed(U, 'POST', '/access/users/{userid}/token/{tokenid}', ['userid', 'tokenid']),
      modify: listed(U, 'PUT', '/access/users/{userid}/token/{tokenid}', ['userid', 'tokenid']),
      delete: listed(U, 'DELETE', '/access/users/{userid}/token/{tokenid}', ['userid', 'tokenid']),
      remove: { alias: 'delete' },
      list: listed(U, 'GET', '/access/users/{userid}/token', ['userid']),
    },
  },
  group: {
    add: plain('PVE::API2::Group', 'POST', '/access/groups', ['groupid']),
    modify: plain('PVE::API2::Group', 'PUT', '/access/groups/{groupid}', ['groupid']),
    delete: plain('PVE::API2::Group', 'DELETE', '/access/groups/{groupid}', ['groupid']),
    list: listed('PVE::API2::Group', 'GET', '/access/groups', []),
  },
  role: {
    add: plain('PVE::API2::Role', 'POST', '/access/roles', ['roleid']),
    modify: plain('PVE::API2::Role', 'PUT', '/access/roles/{roleid}', ['roleid']),
    delete: plain('PVE::API2::Role', 'DELETE', '/access/roles/{roleid}', ['roleid']),
    list: listed('PVE::API2::Role', 'GET', '/access/roles', []),
  },
  acl: {
    modify: plain('PVE::API2::ACL', 'PUT', '/access/acl', ['path'], { delete: 0 }),
    delete: plain('PVE::API2::ACL', 'PUT', '/access/acl', ['path'], { delete: 1 }),
    list: listed('PVE::API2::ACL', 'GET', '/access/acl', []),
  },
  pool: {
    add: plain('PVE::API2::Pool', 'POST', '/pools', ['poolid']),
    modify: plain('PVE::API2::Pool', 'PUT', '/pools', ['poolid']),
    delete: plain('PVE::API2::Pool', 'DELETE', '/pools', ['poolid']),
    list: listed('PVE::API2::Pool', 'GET', '/pools', []),
  },
  useradd: { alias: 'user add' },
  usermod: { alias: 'user modify' },
  userdel: { alias: 'user delete' },
  groupadd: { alias: 'group add' },
  groupmod: { alias: 'group modify' },
  groupdel: { alias: 'group delete' },
  roleadd: { alias: 'role add' },
  rolemod: { alias: 'role modify' },
  roledel: { alias: 'role delete' },
  aclmod: { alias: 'acl modify' },
  acldel: { alias: 'acl delete' },
}

process.exitCode = await runCli('pveum', tree, process.argv.slice(2))
