// talos:schematic PROFILE=: the Image Factory schematic of a profile, its ID computed locally,
// the boot images and installers; --submit registers it with the factory.
import { z } from 'zod'
import { stringify } from 'yaml'
import { runCommand, outputOption } from '../lib/cli.ts'
import { ApiError } from '../lib/errors.ts'
import { info } from '../lib/output.ts'
import { redact } from '../lib/secrets.ts'
import { openTalosContext, factoryUrlFrom } from '../lib/talos/context.ts'
import { DEFAULT_FACTORY, profileSchematic, submitSchematic } from '../lib/talos/schematic.ts'

await runCommand({
  name: 'talos:schematic',
  summary: "Show the profile's Image Factory schematic, its ID (computed locally) and image/installer URLs",
  details: 'The ID is the one the factory returns (SHA-256 of its canonical YAML). A profile whose schematic_id does not match its extensions is an error.\n--submit POSTs the schematic to the factory, so images for it can be downloaded.',
  options: z.strictObject({
    profile: z.string().describe('cluster profile (name in clusters/ or path)'),
    submit: z.boolean().default(false).describe('register the schematic with the Image Factory (POST /schematics)'),
    factory: z.url().optional().describe(`Image Factory URL (default: $PM_TALOS_FACTORY or ${DEFAULT_FACTORY})`),
    output: outputOption,
  }),
  async run(opts, cli) {
    const { profile } = await openTalosContext(cli, opts.profile)
    const factory = factoryUrlFrom(opts.factory) ?? DEFAULT_FACTORY
    const s = profileSchematic(profile, factory)
    if (opts.submit) {
      const id = await submitSchematic(factory, s.yaml)
      if (id !== s.id) throw new ApiError({ message: `the factory answered id ${id}, but the local computation gives ${s.id}: please report this`, status: 200, method: 'POST', path: `${factory}/schematics` })
      info(`submitted to ${factory}: ${id}`)
    }
    const data = { profile: profile.name, id: s.id, version: s.version, schematic: s.yaml, ...s.artifacts, submitted: opts.submit }
    if (opts.output === 'json') process.stdout.write(redact(JSON.stringify(data, null, 2)) + '\n')
    else if (opts.output === 'yaml') process.stdout.write(redact(stringify(data)))
    else {
      const a = s.artifacts
      process.stdout.write(
        [
          `# schematic of ${profile.name} (Talos ${s.version})`,
          s.yaml.trimEnd(),
          '',
          `id:                    ${s.id}`,
          `nocloud raw.xz:        ${a.images.rawXz}`,
          `nocloud qcow2:         ${a.images.qcow2}`,
          `nocloud iso:           ${a.images.iso}`,
          `secureboot raw.xz:     ${a.images.secureBootRawXz}`,
          `secureboot qcow2:      ${a.images.secureBootQcow2}`,
          `secureboot iso:        ${a.images.secureBootIso}`,
          `installer:             ${a.installer}`,
          `secureboot installer:  ${a.secureBootInstaller}`,
        ].join('\n') + '\n',
      )
    }
  },
})
