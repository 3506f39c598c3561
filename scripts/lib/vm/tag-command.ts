// pve:tag:add|remove|rename share this: only the `tags` key is written, VMs that already look
// right get no request, tags the edit does not name are kept.
import { z } from 'zod'
import { runBulkCommand } from './bulk-command.ts'
import { vmRequirements } from './permissions.ts'
import { editVmTags, tagEditApplies, validateTag, type TagEdit } from './tags.ts'

export function runTagCommand(op: TagEdit['op']): Promise<never> {
  const summaries = {
    add: 'Add a tag to the VMs a selector matches (other tags are kept)',
    remove: 'Remove a tag from the VMs a selector matches (other tags are kept)',
    rename: 'Rename a tag on the VMs a selector matches (other tags are kept)',
  }
  return runBulkCommand({
    name: `pve:tag:${op}`,
    summary: summaries[op],
    details: op === 'rename' ? 'Example: task pve:tag:rename SELECTOR=@tag-old TAG=old TO=new' : `Example: task pve:tag:${op} SELECTOR=web-* TAG=frontend`,
    verb: `${op} tag on`,
    options: {
      tag: z.string().min(1).describe(op === 'rename' ? 'the tag to rename' : 'the tag'),
      ...(op === 'rename' ? { to: z.string().min(1).describe('the new name') } : {}),
    },
    spec: (o, { ops }) => {
      const tag = validateTag(o.tag)
      const edit: TagEdit = op === 'rename' ? { op, tag, to: validateTag((o as { to: string }).to, 'TO') } : { op, tag }
      const unchanged = op === 'add' ? `already tagged ${tag}` : `no tag ${tag}`
      return {
        verb: `${op} tag`,
        requirements: (vms) => vmRequirements(vms, 'VM.Config.Options'),
        skip: (vm) => (tagEditApplies(vm, edit) ? undefined : unchanged),
        work: async (vm) => {
          const r = await editVmTags(ops, vm, edit, { dryRun: false })
          return { result: r.changed ? ({ add: 'tagged', remove: 'untagged', rename: 'renamed' } as const)[op] : 'skip', detail: r.changed ? `${r.before || '-'} -> ${r.after || '-'}` : unchanged }
        },
      }
    },
  })
}
