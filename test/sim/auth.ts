// Users, API tokens, roles and ACLs (pve-access-control): token header parsing, privilege
// separation (token ∩ user), path inheritance with propagate, pools, and permission checks
// in the notation of apidoc.json (`['perm', '/vms/{vmid}', ['VM.Audit'], 'any', 1]`, and/or).
import { randomUUID } from 'node:crypto'
import { PveError, permError } from './clock.ts'
import { TOKEN_NAME_RE, USERID_RE } from './validate/formats.ts'

export const PRIVILEGES = [
  'Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.AllocateTemplate', 'Datastore.Audit',
  'Group.Allocate', 'Mapping.Audit', 'Mapping.Modify', 'Mapping.Use', 'Permissions.Modify',
  'Pool.Allocate', 'Pool.Audit', 'Realm.Allocate', 'Realm.AllocateUser', 'SDN.Allocate', 'SDN.Audit', 'SDN.Use',
  'Sys.AccessNetwork', 'Sys.Audit', 'Sys.Console', 'Sys.Incoming', 'Sys.Modify', 'Sys.PowerMgmt', 'Sys.Syslog',
  'User.Modify', 'VM.Allocate', 'VM.Audit', 'VM.Backup', 'VM.Clone', 'VM.Config.CDROM', 'VM.Config.CPU',
  'VM.Config.Cloudinit', 'VM.Config.Disk', 'VM.Config.HWType', 'VM.Config.Memory', 'VM.Config.Network',
  'VM.Config.Options', 'VM.Console', 'VM.GuestAgent.Audit', 'VM.GuestAgent.FileRead', 'VM.GuestAgent.FileSystemMgmt',
  'VM.GuestAgent.FileWrite', 'VM.GuestAgent.Unrestricted', 'VM.Migrate', 'VM.PowerMgmt', 'VM.Replicate',
  'VM.Snapshot', 'VM.Snapshot.Rollback',
]
/** The simulator's own root token (privsep=0): full access, the control API, the SSH shims. */
export const SIM_ROOT_TOKEN = 'root@pam!sim'

// Shared, never mutated: root's answer for every path (a fresh Set per VM costs a 10k-VM listing).
const ALL_PRIVILEGES: ReadonlySet<string> = new Set(PRIVILEGES)
const vmAll = PRIVILEGES.filter((p) => p.startsWith('VM.'))
const BUILTIN_ROLES: Record<string, string[]> = {
  Administrator: PRIVILEGES,
  NoAccess: [],
  PVEAdmin: PRIVILEGES.filter((p) => !['Permissions.Modify', 'Realm.Allocate', 'Sys.Modify', 'Sys.PowerMgmt'].includes(p)),
  PVEAuditor: ['Datastore.Audit', 'Mapping.Audit', 'Pool.Audit', 'SDN.Audit', 'Sys.Audit', 'VM.Audit', 'VM.GuestAgent.Audit'],
  PVEDatastoreAdmin: ['Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.AllocateTemplate', 'Datastore.Audit'],
  PVEDatastoreUser: ['Datastore.AllocateSpace', 'Datastore.Audit'],
  PVEMappingAdmin: ['Mapping.Audit', 'Mapping.Modify', 'Mapping.Use'],
  PVEMappingUser: ['Mapping.Audit', 'Mapping.Use'],
  PVEPoolAdmin: ['Pool.Allocate', 'Pool.Audit'],
  PVEPoolUser: ['Pool.Audit'],
  PVESDNAdmin: ['SDN.Allocate', 'SDN.Audit', 'SDN.Use'],
  PVESDNUser: ['SDN.Audit', 'SDN.Use'],
  PVESysAdmin: ['Permissions.Modify', 'Sys.Audit', 'Sys.Console', 'Sys.Incoming', 'Sys.Modify', 'Sys.PowerMgmt', 'Sys.Syslog', 'Sys.AccessNetwork'],
  PVETemplateUser: ['VM.Audit', 'VM.Clone'],
  PVEUserAdmin: ['Group.Allocate', 'Realm.AllocateUser', 'User.Modify'],
  PVEVMAdmin: vmAll,
  PVEVMUser: ['VM.Audit', 'VM.Backup', 'VM.Config.CDROM', 'VM.Config.Cloudinit', 'VM.Console', 'VM.GuestAgent.Audit', 'VM.PowerMgmt'],
}

export interface Token { secret: string; privsep: boolean; expire: number; comment?: string }
export interface User {
  userid: string
  enable: boolean
  expire: number
  comment?: string
  email?: string
  firstname?: string
  lastname?: string
  groups: string[]
  tokens: Map<string, Token>
}
export interface AclEntry { path: string; ugid: string; type: 'user' | 'group' | 'token'; roleid: string; propagate: boolean }
export interface Role { roleid: string; privs: Set<string>; special: boolean }

/** A request's authenticated identity. */
export interface Identity { authid: string; userid: string; tokenid?: string }

export type PermCheck = unknown[]

export class AccessControl {
  users = new Map<string, User>()
  roles = new Map<string, Role>()
  acl: AclEntry[] = []
  /** VM → pool, for /vms/<id> permissions inherited from /pool/<pool>. */
  vmPool: (vmid: number) => string | undefined = () => undefined

  constructor() {
    for (const [roleid, privs] of Object.entries(BUILTIN_ROLES)) this.roles.set(roleid, { roleid, privs: new Set(privs), special: true })
    this.addUser('root@pam')
  }

  addUser(userid: string, opts: Partial<Omit<User, 'userid' | 'tokens'>> = {}): User {
    const user: User = { userid, enable: true, expire: 0, groups: [], tokens: new Map(), ...opts }
    this.users.set(userid, user)
    return user
  }

  addToken(userid: string, name: string, opts: { privsep?: boolean; expire?: number; comment?: string; secret?: string } = {}): { id: string; secret: string } {
    const user = this.users.get(userid)
    if (!user) throw new PveError(`no such user ('${userid}')`)
    const secret = opts.secret ?? randomUUID()
    user.tokens.set(name, { secret, privsep: opts.privsep ?? true, expire: opts.expire ?? 0, comment: opts.comment })
    return { id: `${userid}!${name}`, secret }
  }

  setAcl(entry: AclEntry) {
    this.acl = this.acl.filter((e) => !(e.path === entry.path && e.ugid === entry.ugid && e.type === entry.type && e.roleid === entry.roleid))
    this.acl.push(entry)
  }

  /**
   * Authenticates an `Authorization` header (PVEAPIToken=USER@REALM!TOKENID=UUID).
   * Every failure is PVE's 401: `No ticket` without credentials, else `Authentication failed!`.
   */
  authenticate(header: string | undefined): Identity {
    const m = header ? /(?:^|\s)PVEAPIToken(?:=| )([^;]*)/.exec(header) : null
    if (!m) throw new PveError('No ticket', 401)
    const failed = new PveError('Authentication failed!', 401)
    let value: string
    try { value = decodeURIComponent(m[1]) } catch { throw failed }
    const eq = value.lastIndexOf('=')
    if (eq < 0) throw failed
    const tokenid = value.slice(0, eq)
    const secret = value.slice(eq + 1)
    const bang = tokenid.indexOf('!')
    if (bang < 0) throw failed
    const userid = tokenid.slice(0, bang)
    const name = tokenid.slice(bang + 1)
    if (!USERID_RE.test(userid) || !TOKEN_NAME_RE.test(name)) throw failed
    const user = this.users.get(userid)
    const now = Date.now() / 1000
    if (!user || !user.enable || (user.expire && user.expire < now)) throw failed
    const token = user.tokens.get(name)
    if (!token || (token.expire && token.expire < now) || token.secret !== secret) throw failed
    return { authid: tokenid, userid, tokenid: name }
  }

  private rolesAt(path: string, ugid: string, type: AclEntry['type'], groups: string[], final: boolean): string[] | undefined {
    const applies = (e: AclEntry) => e.path === path && (final || e.propagate)
    const own = this.acl.filter((e) => applies(e) && e.type === type && e.ugid === ugid).map((e) => e.roleid)
    if (own.length) return own
    const viaGroups = type === 'user' ? this.acl.filter((e) => applies(e) && e.type === 'group' && groups.includes(e.ugid)).map((e) => e.roleid) : []
    return viaGroups.length ? viaGroups : undefined
  }

  /** Privileges of a user or token id on a path, following PVE's inheritance (deeper paths win). */
  private privsFor(ugid: string, type: 'user' | 'token', path: string): Set<string> {
    const user = this.users.get(type === 'token' ? ugid.split('!')[0] : ugid)
    const groups = user?.groups ?? []
    const parts = path.split('/').filter(Boolean)
    const levels = ['/', ...parts.map((_, i) => '/' + parts.slice(0, i + 1).join('/'))]
    let roles: string[] = []
    levels.forEach((level, i) => {
      const r = this.rolesAt(level, ugid, type, groups, i === levels.length - 1)
      if (r) roles = r
    })
    const privs = new Set<string>()
    if (roles.includes('NoAccess')) return privs
    for (const r of roles) for (const p of this.roles.get(r)?.privs ?? []) privs.add(p)
    return privs
  }

  private privsOnPath(ugid: string, type: 'user' | 'token', path: string): Set<string> {
    const privs = this.privsFor(ugid, type, path)
    const vm = /^\/vms\/(\d+)$/.exec(path)
    const pool = vm ? this.vmPool(Number(vm[1])) : undefined
    if (pool) for (const p of this.privsFor(ugid, type, `/pool/${pool}`)) privs.add(p)
    return privs
  }

  /** Effective privileges of an identity on a path (root@pam: all; privsep tokens: token ∩ user). Read-only. */
  permissions(id: Identity, path: string): ReadonlySet<string> {
    if (id.userid === 'root@pam' && (!id.tokenid || !this.users.get('root@pam')!.tokens.get(id.tokenid)?.privsep)) return ALL_PRIVILEGES
    const userPrivs = id.userid === 'root@pam' ? ALL_PRIVILEGES : this.privsOnPath(id.userid, 'user', path)
    if (!id.tokenid) return userPrivs
    const token = this.users.get(id.userid)?.tokens.get(id.tokenid)
    if (!token?.privsep) return userPrivs
    const tokenPrivs = this.privsOnPath(id.authid, 'token', path)
    return new Set([...tokenPrivs].filter((p) => userPrivs.has(p)))
  }

  has(id: Identity, path: string, privs: string[], any = false): boolean {
    const have = this.permissions(id, path)
    return any ? privs.some((p) => have.has(p)) : privs.every((p) => have.has(p))
  }

  /** Throws PVE's 403 unless the identity has the privileges. */
  require(id: Identity, path: string, privs: string[], any = false) {
    if (!this.has(id, path, privs, any)) throw permError(`${path}, ${privs.join('|')}`)
  }

  /** Evaluates an apidoc-style permission check with the raw request parameters. */
  check(id: Identity, check: PermCheck, params: Record<string, unknown>, noerr = false): boolean {
    const [op, ...rest] = check as [string, ...unknown[]]
    if (op === 'and') {
      for (const sub of rest) if (!this.check(id, sub as PermCheck, params, noerr)) return false
      return true
    }
    if (op === 'or') {
      for (const sub of rest) if (this.check(id, sub as PermCheck, params, true)) return true
      if (noerr) return false
      throw permError()
    }
    if (op === 'perm') {
      const [pathTemplate, privs, ...opts] = rest as [string, string[], ...unknown[]]
      const requireParam = opts.indexOf('require_param')
      if (requireParam >= 0 && params[opts[requireParam + 1] as string] === undefined) {
        if (noerr) return false
        throw permError()
      }
      const path = pathTemplate.replace(/\{(\w+)\}/g, (_, p: string) => String(params[p] ?? ''))
      const any = opts.includes('any')
      if (this.has(id, path, privs, any)) return true
      if (noerr) return false
      throw permError(`${path}, ${privs.join('|')}`)
    }
    throw new Error(`unknown permission check '${op}'`)
  }
}
