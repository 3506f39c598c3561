// Image Factory schematics: the YAML, its content-addressed ID computed locally exactly as the
// factory does (hex SHA-256 of yaml.v3's marshalling of image-factory's pkg/schematic.Schematic),
// the image and installer references derived from it, and an explicit submission.
import { createHash } from 'node:crypto'
import { ConfigError, ApiError } from '../errors.ts'
import { goYamlString, UnsupportedScalarError } from './go-yaml.ts'
import type { LoadedProfile } from '../profile.ts'
import { exactTalosVersion } from './versions.ts'

export const DEFAULT_FACTORY = 'https://factory.talos.dev'

export interface SchematicInput {
  extensions?: string[]
  extraKernelArgs?: string[]
  /** Initial META values (key 0-255), e.g. 0x0a for the network config the image boots with. */
  meta?: { key: number; value: string }[]
  /** Include well-known UEFI certificates in the secure boot auto-enrollment database. */
  secureBootWellKnownCerts?: boolean
}

/**
 * The schematic as the factory marshals it: field order and omitempty of pkg/schematic, four-space
 * indentation and indented sequences of yaml.v3. An empty schematic is `customization: {}`.
 */
export function schematicYaml(input: SchematicInput): string {
  const lines: string[] = []
  const list = (key: string, items: string[] | undefined, depth: number) => {
    if (!items?.length) return
    lines.push(`${' '.repeat(depth)}${key}:`)
    for (const item of items) lines.push(`${' '.repeat(depth + 4)}- ${goYamlString(item, depth + 8)}`)
  }
  list('extraKernelArgs', input.extraKernelArgs, 4)
  if (input.meta?.length) {
    lines.push('    meta:')
    for (const { key, value } of input.meta) {
      if (!Number.isInteger(key) || key < 0 || key > 255) throw new UnsupportedScalarError(`META key ${key} is not 0-255`)
      lines.push(`        - key: ${key}`, `          value: ${goYamlString(value, 12)}`)
    }
  }
  if (input.extensions?.length) {
    lines.push('    systemExtensions:')
    list('officialExtensions', input.extensions, 8)
  }
  if (input.secureBootWellKnownCerts) lines.push('    secureboot:', '        includeWellKnownCertificates: true')
  return lines.length ? `customization:\n${lines.join('\n')}\n` : 'customization: {}\n'
}

export function schematicId(yaml: string): string {
  return createHash('sha256').update(yaml).digest('hex')
}

export interface FactoryArtifacts {
  /** Boot media: nocloud disk images for a PVE template, and the ISO. */
  images: { rawXz: string; qcow2: string; iso: string; secureBootRawXz: string; secureBootQcow2: string; secureBootIso: string }
  /** Installer images for machine.install.image and upgrades (the nocloud installer, talos#10949). */
  installer: string
  secureBootInstaller: string
}

/** `https://factory.talos.dev` + id + v1.x.y → download URLs and installer references. */
export function factoryArtifacts(factoryUrl: string, id: string, version: string, arch = 'amd64'): FactoryArtifacts {
  const base = factoryUrl.replace(/\/+$/, '')
  const registry = new URL(base).host
  const image = (suffix: string) => `${base}/image/${id}/${version}/nocloud-${arch}${suffix}`
  return {
    images: {
      rawXz: image('.raw.xz'),
      qcow2: image('.qcow2'),
      iso: image('.iso'),
      secureBootRawXz: image('-secureboot.raw.xz'),
      secureBootQcow2: image('-secureboot.qcow2'),
      secureBootIso: image('-secureboot.iso'),
    },
    installer: `${registry}/nocloud-installer/${id}:${version}`,
    secureBootInstaller: `${registry}/nocloud-installer-secureboot/${id}:${version}`,
  }
}

export interface ProfileSchematic {
  yaml: string
  id: string
  /** What the profile states (talos.factory.schematic_id), when it does. */
  declaredId?: string
  version: string
  artifacts: FactoryArtifacts
}

/** The profile's schematic; ConfigError when the declared schematic_id is not the one its extensions give. */
export function profileSchematic(profile: LoadedProfile, factoryUrl = DEFAULT_FACTORY): ProfileSchematic {
  const factory = profile.talos?.factory
  let yaml: string
  try {
    yaml = schematicYaml({ extensions: factory?.extensions })
  } catch (err) {
    if (err instanceof UnsupportedScalarError) throw new ConfigError([{ file: profile.file, path: 'talos.factory.extensions', message: `${err.message}; submit it with --submit and store the returned id` }])
    throw err
  }
  const id = schematicId(yaml)
  if (factory?.schematic_id && factory.schematic_id !== id) {
    throw new ConfigError([
      {
        file: profile.file,
        path: 'talos.factory.schematic_id',
        message: `${factory.schematic_id} is not the schematic of the listed extensions, which is ${id} (update one of them; an image built from the wrong schematic loses or gains extensions on upgrade)`,
      },
    ])
  }
  const version = exactTalosVersion(profile)
  return { yaml, id, declaredId: factory?.schematic_id, version, artifacts: factoryArtifacts(factoryUrl, id, version) }
}

/** POST /schematics; the factory answers {id}, which must equal the local computation. */
export async function submitSchematic(factoryUrl: string, yaml: string, fetchImpl: typeof fetch = fetch): Promise<string> {
  const url = `${factoryUrl.replace(/\/+$/, '')}/schematics`
  let res: Response
  try {
    res = await fetchImpl(url, { method: 'POST', body: yaml, headers: { 'content-type': 'application/yaml' }, signal: AbortSignal.timeout(30_000) })
  } catch (err: any) {
    throw new ApiError({ message: `cannot reach the Image Factory at ${url}: ${err?.cause?.message ?? err?.message ?? err}`, status: 0, method: 'POST', path: url })
  }
  const text = await res.text()
  if (!res.ok) throw new ApiError({ message: `the Image Factory refused the schematic: HTTP ${res.status} ${text.trim().slice(0, 300)}`, status: res.status, method: 'POST', path: url })
  let id: unknown
  try {
    id = (JSON.parse(text) as { id?: unknown }).id
  } catch {
    id = undefined
  }
  if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id)) throw new ApiError({ message: `unexpected answer from the Image Factory: ${text.slice(0, 300)}`, status: res.status, method: 'POST', path: url })
  return id
}
