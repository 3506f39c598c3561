// Access control endpoints used by the RBAC bootstrap and by tests of privilege separation:
// users, API tokens, roles, ACLs and /access/permissions.
import { PveError, paramError, permError } from '../clock.ts'
import { PRIVILEGES, type AclEntry, type Identity } from '../auth.ts'
import type { ApiRequest, Router } from '../router.ts'
import { bool, int, opt, params, str, userid } from '../validate/schema.ts'
import { splitList } from '../validate/formats.ts'

const tokenid = str({ pattern: '(?^:[A-Za-z][A-Za-z0-9\\.\\-_]+)' })
const userProps = {
  comment: opt(str({ maxLength: 2048 })), email: opt(str({ format: 'email-opt', maxLength: 254 })), enable: opt(bool()), expire: opt(int({ minimum: 0 })),
  firstname: opt(str({ maxLength: 1024 })), groups: opt(str({ format: 'pve-groupid-list' })), keys: opt(str({ pattern: '[0-9a-zA-Z!=]{0,4096}' })), lastname: opt(str({ maxLength: 1024 })),
}

/** User.Modify on /access/groups (PVE's userid-group check, without per-group detail). */
function requireUserAdmin(req: ApiRequest, privs = ['User.Modify']) {
  req.sim.access.require(req.id, '/access/groups', privs, true)
}
function selfOrAdmin(req: ApiRequest) {
  if (req.params.userid === req.id.userid && !req.id.tokenid) return
  if (req.params.userid === req.id.userid && req.id.tokenid) return
  if (!req.sim.access.has(req.id, '/access/groups', ['User.Modify'])) throw permError()
}

function userView(req: ApiRequest, u: import('../auth.ts').User, full = false) {
  return {
    userid: u.userid, enable: u.enable ? 1 : 0, expire: u.expire, ...(u.comment ? { comment: u.comment } : {}), ...(u.email ? { email: u.email } : {}),
    ...(u.firstname ? { firstname: u.firstname } : {}), ...(u.lastname ? { lastname: u.lastname } : {}), groups: full ? u.groups : u.groups.join(','),
    'realm-type': u.userid.split('@')[1] === 'pam' ? 'pam' : 'pve',
    ...(full ? { tokens: [...u.tokens.entries()].map(([name, t]) => ({ tokenid: name, privsep: t.privsep ? 1 : 0, expire: t.expire, ...(t.comment ? { comment: t.comment } : {}) })) } : {}),
  }
}

function getUser(req: ApiRequest) {
  const u = req.sim.access.users.get(req.params.userid)
  if (!u) throw new PveError(`no such user ('${req.params.userid}')`)
  return u
}

export function register(r: Router) {
  r.add({
    method: 'GET', path: '/access/users', permissions: { user: 'all' }, params: params({ enabled: opt(bool()), full: opt(bool()) }),
    handler: (req) => {
      const admin = req.sim.access.has(req.id, '/access/groups', ['User.Modify', 'Sys.Audit'], true)
      return [...req.sim.access.users.values()]
        .filter((u) => (admin || u.userid === req.id.userid) && (req.params.enabled === undefined || u.enable === !!req.params.enabled))
        .map((u) => userView(req, u, !!req.params.full))
    },
  })
  r.add({
    method: 'POST', path: '/access/users', permissions: { user: 'all' }, params: params({ userid, password: opt(str({ minLength: 8, maxLength: 64 })), ...userProps }),
    handler: (req) => {
      const { sim, params: p } = req
      sim.access.require(req.id, `/access/realm/${p.userid.split('@')[1]}`, ['Realm.AllocateUser'])
      requireUserAdmin(req)
      if (sim.access.users.has(p.userid)) throw new PveError(`create user failed: user '${p.userid}' already exists`)
      sim.access.addUser(p.userid, { enable: p.enable !== 0, expire: p.expire ?? 0, comment: p.comment, email: p.email, firstname: p.firstname, lastname: p.lastname, groups: splitList(p.groups ?? '') })
      return null
    },
  })
  r.add({
    method: 'GET', path: '/access/users/{userid}', permissions: { user: 'all' }, params: params({ userid }),
    handler: (req) => {
      requireUserAdmin(req, ['User.Modify', 'Sys.Audit'])
      const { userid: _u, ...rest } = userView(req, getUser(req), true)
      return rest
    },
  })
  r.add({
    method: 'PUT', path: '/access/users/{userid}', permissions: { user: 'all' }, params: params({ userid, append: opt(bool({ requires: 'groups' })), ...userProps }),
    handler: (req) => {
      requireUserAdmin(req)
      const u = getUser(req)
      const p = req.params
      if (p.enable !== undefined) u.enable = !!p.enable
      if (p.expire !== undefined) u.expire = p.expire
      for (const k of ['comment', 'email', 'firstname', 'lastname'] as const) if (p[k] !== undefined) u[k] = p[k]
      if (p.groups !== undefined) u.groups = p.append ? [...new Set([...u.groups, ...splitList(p.groups)])] : splitList(p.groups)
      return null
    },
  })
  r.add({
    method: 'DELETE', path: '/access/users/{userid}', permissions: { user: 'all' }, params: params({ userid }),
    handler: (req) => {
      req.sim.access.require(req.id, `/access/realm/${req.params.userid.split('@')[1]}`, ['Realm.AllocateUser'])
      requireUserAdmin(req)
      getUser(req)
      req.sim.access.users.delete(req.params.userid)
      req.sim.access.acl = req.sim.access.acl.filter((e) => e.ugid !== req.params.userid && !e.ugid.startsWith(`${req.params.userid}!`))
      return null
    },
  })

  r.add({
    method: 'GET', path: '/access/users/{userid}/token', permissions: { user: 'all' }, params: params({ userid }),
    handler: (req) => {
      selfOrAdmin(req)
      return [...getUser(req).tokens.entries()].map(([name, t]) => ({ tokenid: name, privsep: t.privsep ? 1 : 0, expire: t.expire, ...(t.comment ? { comment: t.comment } : {}) }))
    },
  })
  r.add({
    method: 'GET', path: '/access/users/{userid}/token/{tokenid}', permissions: { user: 'all' }, params: params({ userid, tokenid }),
    handler: (req) => {
      selfOrAdmin(req)
      const t = getUser(req).tokens.get(req.params.tokenid)
      if (!t) throw new PveError(`no such token '${req.params.tokenid}' for user '${req.params.userid}'`)
      return { privsep: t.privsep ? 1 : 0, expire: t.expire, ...(t.comment ? { comment: t.comment } : {}) }
    },
  })
  r.add({
    method: 'POST', path: '/access/users/{userid}/token/{tokenid}', permissions: { user: 'all' },
    params: params({ userid, tokenid, comment: opt(str()), expire: opt(int({ minimum: 0 })), privsep: opt(bool()) }),
    handler: (req) => {
      selfOrAdmin(req)
      const u = getUser(req)
      const p = req.params
      if (u.tokens.has(p.tokenid)) throw paramError({ tokenid: 'Token already exists.' })
      const created = req.sim.access.addToken(u.userid, p.tokenid, { privsep: p.privsep !== 0, expire: p.expire ?? u.expire, comment: p.comment })
      return { 'full-tokenid': created.id, info: { privsep: p.privsep !== 0 ? 1 : 0, expire: p.expire ?? u.expire, ...(p.comment ? { comment: p.comment } : {}) }, value: created.secret }
    },
  })
  r.add({
    method: 'PUT', path: '/access/users/{userid}/token/{tokenid}', permissions: { user: 'all' },
    params: params({ userid, tokenid, comment: opt(str()), delete: opt(str({ format: 'pve-configid-list' })), expire: opt(int({ minimum: 0 })), privsep: opt(bool()), regenerate: opt(bool()) }),
    handler: (req) => {
      selfOrAdmin(req)
      const t = getUser(req).tokens.get(req.params.tokenid)
      if (!t) throw new PveError(`no such token '${req.params.tokenid}' for user '${req.params.userid}'`)
      const p = req.params
      if (p.comment !== undefined) t.comment = p.comment
      if (p.expire !== undefined) t.expire = p.expire
      if (p.privsep !== undefined) t.privsep = !!p.privsep
      if (splitList(p.delete ?? '').includes('comment')) delete t.comment
      const info = { privsep: t.privsep ? 1 : 0, expire: t.expire, ...(t.comment ? { comment: t.comment } : {}) }
      if (p.regenerate) {
        t.secret = crypto.randomUUID()
        return { 'full-tokenid': `${p.userid}!${p.tokenid}`, info, value: t.secret }
      }
      return info
    },
  })
  r.add({
    method: 'DELETE', path: '/access/users/{userid}/token/{tokenid}', permissions: { user: 'all' }, params: params({ userid, tokenid }),
    handler: (req) => {
      selfOrAdmin(req)
      const u = getUser(req)
      if (!u.tokens.delete(req.params.tokenid)) throw new PveError(`no such token '${req.params.tokenid}' for user '${req.params.userid}'`)
      const full = `${u.userid}!${req.params.tokenid}`
      req.sim.access.acl = req.sim.access.acl.filter((e) => e.ugid !== full)
      return null
    },
  })

  const roleid = str({ format: 'pve-roleid' })
  const privList = opt(str({ format: 'pve-priv-list' }))
  const checkPrivs = (text: string | undefined) => {
    const privs = splitList(text ?? '')
    const bad = privs.find((p) => !PRIVILEGES.includes(p))
    if (bad) throw paramError({ privs: `invalid format - invalid privilege '${bad}'\n` })
    return privs
  }
  r.add({
    method: 'GET', path: '/access/roles', permissions: { user: 'all' }, params: params({}),
    handler: ({ sim }) => [...sim.access.roles.values()].map((r) => ({ roleid: r.roleid, privs: [...r.privs].sort().join(','), special: r.special ? 1 : 0 })),
  })
  r.add({
    method: 'GET', path: '/access/roles/{roleid}', permissions: { user: 'all' }, params: params({ roleid }),
    handler: ({ sim, params: p }) => {
      const role = sim.access.roles.get(p.roleid)
      if (!role) throw new PveError(`role '${p.roleid}' does not exist`)
      return Object.fromEntries([...role.privs].sort().map((x) => [x, 1]))
    },
  })
  r.add({
    method: 'POST', path: '/access/roles', permissions: { check: ['perm', '/access', ['Sys.Modify']] }, params: params({ roleid, privs: privList }),
    handler: ({ sim, params: p }) => {
      if (sim.access.roles.has(p.roleid)) throw new PveError(`role '${p.roleid}' already exists`)
      sim.access.roles.set(p.roleid, { roleid: p.roleid, privs: new Set(checkPrivs(p.privs)), special: false })
      return null
    },
  })
  r.add({
    method: 'PUT', path: '/access/roles/{roleid}', permissions: { check: ['perm', '/access', ['Sys.Modify']] }, params: params({ roleid, append: opt(bool({ requires: 'privs' })), privs: privList }),
    handler: ({ sim, params: p }) => {
      const role = sim.access.roles.get(p.roleid)
      if (!role) throw new PveError(`role '${p.roleid}' does not exist`)
      if (role.special) throw new PveError(`cannot modify built-in role '${p.roleid}'`)
      const privs = checkPrivs(p.privs)
      role.privs = new Set(p.append ? [...role.privs, ...privs] : privs)
      return null
    },
  })
  r.add({
    method: 'DELETE', path: '/access/roles/{roleid}', permissions: { check: ['perm', '/access', ['Sys.Modify']] }, params: params({ roleid }),
    handler: ({ sim, params: p }) => {
      const role = sim.access.roles.get(p.roleid)
      if (!role) throw new PveError(`role '${p.roleid}' does not exist`)
      if (role.special) throw new PveError(`cannot delete built-in role '${p.roleid}'`)
      sim.access.roles.delete(p.roleid)
      sim.access.acl = sim.access.acl.filter((e) => e.roleid !== p.roleid)
      return null
    },
  })

  r.add({
    method: 'GET', path: '/access/acl', permissions: { user: 'all' }, params: params({}),
    handler: ({ sim, id }) => sim.access.acl
      .filter((e) => sim.access.has(id, e.path, ['Permissions.Modify']))
      .map((e) => ({ path: e.path, type: e.type, ugid: e.ugid, roleid: e.roleid, propagate: e.propagate ? 1 : 0 })),
  })
  r.add({
    method: 'PUT', path: '/access/acl', permissions: { user: 'all' },
    params: params({ path: str(), roles: str({ format: 'pve-roleid-list' }), delete: opt(bool()), groups: opt(str({ format: 'pve-groupid-list' })), propagate: opt(bool()), tokens: opt(str({ format: 'pve-tokenid-list' })), users: opt(str({ format: 'pve-userid-list' })) }),
    handler: (req) => {
      const { sim, params: p } = req
      const path = normalizeAclPath(p.path)
      if (!sim.access.has(req.id, path, ['Permissions.Modify'])) throw permError(`${path}, Permissions.Modify`)
      if (!p.users && !p.groups && !p.tokens) throw paramError({ users: 'either users, groups or tokens is required' })
      const roles = splitList(p.roles)
      for (const role of roles) if (!sim.access.roles.has(role)) throw new PveError(`role '${role}' does not exist`)
      const subjects: [AclEntry['type'], string][] = [
        ...splitList(p.users ?? '').map((u) => ['user', u] as [AclEntry['type'], string]),
        ...splitList(p.groups ?? '').map((g) => ['group', g] as [AclEntry['type'], string]),
        ...splitList(p.tokens ?? '').map((t) => ['token', t] as [AclEntry['type'], string]),
      ]
      for (const [type, ugid] of subjects) {
        if (type === 'user' && !sim.access.users.has(ugid)) throw new PveError(`user '${ugid}' does not exist`)
        if (type === 'token') {
          const [u, name] = ugid.split('!')
          if (!sim.access.users.get(u)?.tokens.has(name)) throw new PveError(`no such token '${name}' for user '${u}'`)
        }
        for (const roleid of roles) {
          if (p.delete) sim.access.acl = sim.access.acl.filter((e) => !(e.path === path && e.type === type && e.ugid === ugid && e.roleid === roleid))
          else sim.access.setAcl({ path, type, ugid, roleid, propagate: p.propagate !== 0 })
        }
      }
      return null
    },
  })
  r.add({
    method: 'GET', path: '/access/permissions', permissions: { user: 'all' },
    params: params({ path: opt(str()), userid: opt(str({ pattern: '(?^:^(?^:[^\\s:/]+)\\@(?^:[A-Za-z][A-Za-z0-9\\.\\-_]+)(?:!(?^:[A-Za-z][A-Za-z0-9\\.\\-_]+))?$)' })) }),
    handler: (req) => {
      const { sim, params: p } = req
      let who: Identity = req.id
      if (p.userid && p.userid !== req.id.authid) {
        const [u, t] = String(p.userid).split('!')
        const own = !req.id.tokenid && u === req.id.userid
        if (!own) sim.access.require(req.id, '/access', ['Sys.Audit'])
        if (!sim.access.users.has(u)) throw new PveError(`no such user ('${u}')`)
        who = { authid: p.userid, userid: u, ...(t ? { tokenid: t } : {}) }
      }
      const paths = p.path ? [normalizeAclPath(p.path)] : [...new Set(['/', '/access', '/access/groups', '/nodes', '/pool', '/sdn', '/storage', '/vms', ...sim.access.acl.map((e) => e.path)])].sort()
      const out: Record<string, Record<string, number>> = {}
      for (const path of paths) {
        const privs = sim.access.permissions(who, path)
        if (privs.size || p.path) out[path] = Object.fromEntries([...privs].sort().map((x) => [x, 1]))
      }
      return out
    },
  })
}

function normalizeAclPath(path: string) {
  const clean = '/' + path.split('/').filter(Boolean).join('/')
  if (!/^\/(access(\/(groups|realm)(\/[^/]+)?)?|vms(\/\d+)?|storage(\/[^/]+)?|nodes(\/[^/]+)?|pool(\/[^/]+)*|sdn(\/.*)?|mapping(\/.*)?)?$/.test(clean)) throw paramError({ path: `invalid ACL path '${path}'` })
  return clean
}
