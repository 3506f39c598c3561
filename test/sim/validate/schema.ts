// Parameter schemas in the shape PVE's apidoc.json uses ({type, format, pattern, enum, optional,
// minimum, maximum, maxLength, minLength, requires, default_key, alias, keyAlias}). The simulator's
// own specs are written with the small helpers below; the same engine (engine.ts) validates
// against these specs at request time and against the official apidoc.json in the conformance check.

export interface ParamSchema {
  type?: 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object' | 'null' | 'any'
  /** A named format (validated in formats.ts) or a property-string format (key → schema). */
  format?: string | PropertyFormat
  pattern?: string
  enum?: string[]
  optional?: 1
  minimum?: number
  maximum?: number
  maxLength?: number
  minLength?: number
  requires?: string
  default_key?: 1
  alias?: string
  keyAlias?: string
}
export type PropertyFormat = Record<string, ParamSchema>

export interface ParametersSchema {
  properties: Record<string, ParamSchema>
  additionalProperties?: 0 | 1
}

type Extra = Omit<ParamSchema, 'type' | 'enum'>

export const str = (extra: Extra = {}): ParamSchema => ({ type: 'string', ...extra })
export const int = (extra: Extra = {}): ParamSchema => ({ type: 'integer', ...extra })
export const num = (extra: Extra = {}): ParamSchema => ({ type: 'number', ...extra })
export const bool = (extra: Extra = {}): ParamSchema => ({ type: 'boolean', ...extra })
export const en = (values: string[], extra: Extra = {}): ParamSchema => ({ type: 'string', enum: values, ...extra })
export const opt = (s: ParamSchema): ParamSchema => ({ ...s, optional: 1 })
export const alias = (target: string, keyAlias?: string): ParamSchema => (keyAlias ? { alias: target, keyAlias } : { alias: target })

// Standard options (PVE's register_standard_option), reused by many endpoints.
export const vmid = int({ format: 'pve-vmid', minimum: 100, maximum: 999_999_999 })
export const node = str({ format: 'pve-node' })
export const storageId = str({ format: 'pve-storage-id' })
export const digest = opt(str({ maxLength: 40 }))
export const skiplock = opt(bool())
export const snapname = str({ format: 'pve-configid', maxLength: 40 })
export const userid = str({ format: 'pve-userid', maxLength: 64 })
export const poolid = str({ format: 'pve-poolid' })

/** `{properties, additionalProperties: 0}`: PVE's default for API methods. */
export const params = (properties: Record<string, ParamSchema>): ParametersSchema => ({ properties, additionalProperties: 0 })
