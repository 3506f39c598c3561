// The one VM selector language of every bulk command (modelled on cv4pve-autosnap's --vmid):
//
//   100,101        ids                      100:110       an inclusive range
//   web-*  db?     names, shell globs       @tag-k8s      has the tag (repeat for AND)
//   @node-pve1     on that node             @pool-prod    in that pool
//   @status-running                         -101  -@tag-keep  exclusions (any term, prefixed "-")
//
// Terms are separated by commas or whitespace. Ids, ranges and names are alternatives (OR);
// @tag terms must all hold (AND); @node/@pool/@status terms of one kind are alternatives. A
// selector without a positive restriction (empty, "*", "@all", exclusions only) selects the
// whole cluster and is refused unless the caller passes --all. Templates are never selected.
import { RefusedError, UsageError, NotFoundError } from './errors.ts'

/** What the selector needs to know about a VM (a /cluster/resources type=vm entry). */
export interface SelectableVm {
  vmid: number
  name?: string
  node: string
  status?: string
  tags?: string
  pool?: string
  template?: number | boolean
  type?: string
}

export type Term =
  | { kind: 'id'; vmid: number }
  | { kind: 'range'; from: number; to: number }
  | { kind: 'name'; pattern: string; glob: boolean }
  | { kind: 'tag'; tag: string }
  | { kind: 'node'; node: string }
  | { kind: 'pool'; pool: string }
  | { kind: 'status'; status: string }
  | { kind: 'all' }

export interface Selector {
  source: string
  include: Term[]
  exclude: Term[]
}

const VMID_MIN = 100
const VMID_MAX = 999_999_999
const TAG_RE = /^[a-z0-9_][a-z0-9_\-+.]*$/i
const NODE_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/
const NAME_RE = /^[a-zA-Z0-9*?[\]._-]+$/
export const SELECTABLE_STATUSES = ['running', 'stopped', 'paused', 'suspended', 'unknown'] as const

function parseVmid(text: string, token: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || n < VMID_MIN || n > VMID_MAX) {
    throw new UsageError(`selector term '${token}': '${text}' is not a VMID (${VMID_MIN}-${VMID_MAX})`)
  }
  return n
}

function parseTerm(token: string): Term {
  if (token === '*' || token.toLowerCase() === '@all') return { kind: 'all' }
  if (/^\d+$/.test(token)) return { kind: 'id', vmid: parseVmid(token, token) }
  const range = /^(\d+):(\d+)$/.exec(token)
  if (range) {
    const from = parseVmid(range[1], token)
    const to = parseVmid(range[2], token)
    if (from > to) throw new UsageError(`selector term '${token}': the range is reversed (write ${to}:${from})`)
    return { kind: 'range', from, to }
  }
  const at = /^@(tag|node|pool|status)-(.+)$/i.exec(token)
  if (at) {
    const kind = at[1].toLowerCase()
    const value = at[2]
    if (kind === 'tag') {
      if (!TAG_RE.test(value)) throw new UsageError(`selector term '${token}': invalid tag '${value}' (PVE tags match ${TAG_RE.source})`)
      return { kind: 'tag', tag: value.toLowerCase() }
    }
    if (kind === 'node') {
      if (!NODE_RE.test(value)) throw new UsageError(`selector term '${token}': invalid node name '${value}'`)
      return { kind: 'node', node: value }
    }
    if (kind === 'pool') return { kind: 'pool', pool: value }
    const status = value.toLowerCase()
    if (!(SELECTABLE_STATUSES as readonly string[]).includes(status)) {
      throw new UsageError(`selector term '${token}': unknown status '${value}' (one of ${SELECTABLE_STATUSES.join(', ')})`)
    }
    return { kind: 'status', status }
  }
  if (token.startsWith('@')) {
    throw new UsageError(`selector term '${token}': unknown filter (use @tag-, @node-, @pool-, @status- or @all)`)
  }
  if (!NAME_RE.test(token)) throw new UsageError(`selector term '${token}': not an id, range, name, glob or @filter`)
  const glob = /[*?[]/.test(token)
  if (glob && /^\*+$/.test(token)) return { kind: 'all' }
  return { kind: 'name', pattern: token, glob }
}

/** Parses a selector; throws UsageError naming the bad term. Whitespace and commas separate terms. */
export function parseSelector(source: string | string[] | undefined): Selector {
  const text = (Array.isArray(source) ? source.join(',') : (source ?? '')).trim()
  const tokens = text.split(/[\s,]+/u).filter(Boolean)
  const include: Term[] = []
  const exclude: Term[] = []
  for (const token of tokens) {
    if (token.startsWith('-') && token.length > 1) exclude.push(parseTerm(token.slice(1)))
    else if (token === '-') throw new UsageError("selector term '-': an exclusion needs a term after the '-'")
    else include.push(parseTerm(token))
  }
  return { source: text, include, exclude }
}

/** True when the selector has no positive restriction: it would select every VM of the cluster. */
export function selectsEverything(sel: Selector): boolean {
  return sel.include.every((t) => t.kind === 'all')
}

function globToRegExp(glob: string): RegExp {
  let re = ''
  for (const ch of glob) {
    if (ch === '*') re += '.*'
    else if (ch === '?') re += '.'
    else if (ch === '[' || ch === ']') re += ch
    else re += ch.replace(/[.+^${}()|\\-]/g, '\\$&')
  }
  return new RegExp(`^${re}$`, 'i')
}

export const vmTags = (vm: Pick<SelectableVm, 'tags'>): string[] =>
  (vm.tags ?? '')
    .split(/[;,\s]+/)
    .filter(Boolean)
    .map((t) => t.toLowerCase())

const isTemplate = (vm: SelectableVm) => vm.template === 1 || vm.template === true

function matches(term: Term, vm: SelectableVm): boolean {
  switch (term.kind) {
    case 'all':
      return true
    case 'id':
      return vm.vmid === term.vmid
    case 'range':
      return vm.vmid >= term.from && vm.vmid <= term.to
    case 'name':
      return vm.name !== undefined && (term.glob ? globToRegExp(term.pattern).test(vm.name) : vm.name.toLowerCase() === term.pattern.toLowerCase())
    case 'tag':
      return vmTags(vm).includes(term.tag)
    case 'node':
      return vm.node === term.node
    case 'pool':
      return vm.pool === term.pool
    case 'status':
      return vm.status === term.status
  }
}

const IDENTITY = new Set(['id', 'range', 'name', 'all'])

function includes(sel: Selector, vm: SelectableVm): boolean {
  const identity = sel.include.filter((t) => IDENTITY.has(t.kind))
  if (identity.length && !identity.some((t) => matches(t, vm))) return false
  for (const t of sel.include) if (t.kind === 'tag' && !matches(t, vm)) return false
  for (const kind of ['node', 'pool', 'status'] as const) {
    const terms = sel.include.filter((t) => t.kind === kind)
    if (terms.length && !terms.some((t) => matches(t, vm))) return false
  }
  return true
}

export interface Selection<V extends SelectableVm> {
  /** The selected VMs, sorted by VMID; never templates. */
  vms: V[]
  /** Templates the selector matched, left out on purpose (callers say so). */
  skippedTemplates: V[]
  /** VMIDs named explicitly (`100`) that do not exist. */
  missingIds: number[]
}

export interface SelectOptions {
  /** The user passed --all: a match-everything selector is what they mean. */
  all?: boolean
}

/**
 * Resolves a selector against the cluster's VMs. Refuses (before anything else happens) an
 * empty or match-everything selector without --all, and a selection that turns out to be every
 * VM of the cluster although the selector names no VMID explicitly.
 */
export function selectVms<V extends SelectableVm>(sel: Selector, vms: V[], opts: SelectOptions = {}): Selection<V> {
  assertSelectorAllowed(sel, opts)
  const guests = vms.filter((v) => v.type === undefined || v.type === 'qemu')
  const matched = guests.filter((vm) => includes(sel, vm) && !sel.exclude.some((t) => matches(t, vm)))
  const byId = (a: V, b: V) => a.vmid - b.vmid
  const selected = matched.filter((v) => !isTemplate(v)).sort(byId)
  const known = new Set(guests.map((v) => v.vmid))
  const missingIds = sel.include.flatMap((t) => (t.kind === 'id' && !known.has(t.vmid) ? [t.vmid] : []))
  const nonTemplates = guests.filter((v) => !isTemplate(v))
  const namesExplicitIds = sel.include.some((t) => t.kind === 'id')
  if (!opts.all && !namesExplicitIds && nonTemplates.length > 1 && selected.length === nonTemplates.length) {
    throw new RefusedError(
      `selector '${sel.source}' matches every VM of the cluster (${selected.length})`,
      'narrow the selector, or pass --all if you really mean all of them',
    )
  }
  return { vms: selected, skippedTemplates: matched.filter(isTemplate).sort(byId), missingIds }
}

/** The checks that need no cluster data: they run before the first request. */
export function assertSelectorAllowed(sel: Selector, opts: SelectOptions = {}): void {
  if (opts.all) return
  if (!sel.source) {
    throw new RefusedError('empty selector: refusing to act on every VM', "name the VMs (e.g. '100,101', '@tag-web', 'web-*') or pass --all")
  }
  if (selectsEverything(sel)) {
    throw new RefusedError(`selector '${sel.source}' matches every VM of the cluster`, 'narrow the selector, or pass --all if you really mean all of them')
  }
}

/** Selection with the explicit-id check applied: naming a VMID that does not exist is an error. */
export function requireSelection<V extends SelectableVm>(sel: Selector, vms: V[], opts: SelectOptions = {}): Selection<V> {
  const result = selectVms(sel, vms, opts)
  if (result.missingIds.length) {
    throw new NotFoundError(`selector '${sel.source}' names VMs that do not exist: ${result.missingIds.join(', ')}`)
  }
  return result
}
