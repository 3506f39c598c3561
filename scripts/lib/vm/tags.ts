// Tag edits that touch nothing else: only the `tags` key is written (a tag change never needs a
// reboot, unlike tools that resend the whole config), tags owned by others (ProxLB's plb_*,
// CAPMOX markers...) are kept, and a VM that already has the wanted tags gets no request at all.
import { UsageError } from '../errors.ts'
import { qemuPath, type VmResource } from './api.ts'
import { diffConfig } from './config-diff.ts'
import { getConfig, type VmOps } from './context.ts'
import { normalizeTags, splitTags, TAG_RE } from './normalize.ts'

export type TagEdit = { op: 'add'; tag: string } | { op: 'remove'; tag: string } | { op: 'rename'; tag: string; to: string }

export function validateTag(tag: string, what = 'TAG'): string {
  if (!TAG_RE.test(tag)) throw new UsageError(`${what} '${tag}': PVE tags match ${TAG_RE.source} (letters, digits, _ - + .)`)
  return tag.toLowerCase()
}

/** The new tag list (PVE form) after the edit, or undefined when nothing changes. */
export function applyTagEdit(current: string | undefined, edit: TagEdit): string | undefined {
  const tags = splitTags(current)
  const has = (t: string) => tags.some((x) => x.toLowerCase() === t)
  let next: string[]
  if (edit.op === 'add') next = has(edit.tag) ? tags : [...tags, edit.tag]
  else if (edit.op === 'remove') next = tags.filter((t) => t.toLowerCase() !== edit.tag)
  else next = has(edit.tag) ? [...tags.filter((t) => t.toLowerCase() !== edit.tag), edit.to] : tags
  const result = normalizeTags(next)
  return result === normalizeTags(tags) ? undefined : result
}

export interface TagResult {
  vmid: number
  before: string
  after: string
  changed: boolean
}

/** Reads the config, and writes `tags` (with digest) only if the edit changes it. */
export async function editVmTags(ops: VmOps, vm: VmResource, edit: TagEdit, opts: { dryRun: boolean }): Promise<TagResult> {
  const config = await getConfig(ops.api, vm)
  const before = String(config.tags ?? '')
  const next = applyTagEdit(before, edit)
  if (next === undefined) return { vmid: vm.vmid, before, after: before, changed: false }
  if (!opts.dryRun) {
    const update = diffConfig(config, { tags: next })
    if (update.params) await ops.api.put(qemuPath(vm.node, vm.vmid, '/config'), update.params)
  }
  return { vmid: vm.vmid, before, after: next, changed: true }
}

/** Whether the edit would touch this VM, judged from /cluster/resources' tags (no extra request). */
export const tagEditApplies = (vm: Pick<VmResource, 'tags'>, edit: TagEdit) => applyTagEdit(vm.tags, edit) !== undefined
