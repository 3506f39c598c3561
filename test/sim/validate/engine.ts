// One validator for PVE-shaped parameter schemas, with PVE's exact error texts
// (pve-common JSONSchema.pm check_prop/check_object/parse_property_string). Used with the
// simulator's own specs at request time and with the official apidoc.json in the conformance check.
import { namedPropertyFormats, splitList, validators } from './formats.ts'
import { driveFormats } from './qemu-formats.ts'
import type { ParamSchema, ParametersSchema, PropertyFormat } from './schema.ts'

export type Errors = Record<string, string>

const propertyFormats: Record<string, PropertyFormat> = { ...namedPropertyFormats, ...driveFormats }

/** A named hash format (property string), if the engine knows it. */
export function resolvePropertyFormat(name: string): PropertyFormat | undefined {
  return propertyFormats[name]
}

/** Highest index of PVE's numbered config keys (`net[n]` in the schema means net0..net31). */
const MAX_INDEX: Record<string, number> = {
  scsi: 30, virtio: 15, sata: 5, ide: 3, net: 31, ipconfig: 31, unused: 255, usb: 14, hostpci: 15,
  serial: 3, parallel: 2, numa: 7, virtiofs: 9, mp: 255, dev: 255, link: 7, ring: 7,
}

/** Names of formats the engine met but does not know: their values are only type-checked. */
export const uncheckedFormats = new Set<string>()

const regexCache = new Map<string, RegExp | null>()
/** Perl pattern → anchored JS RegExp (PVE matches `^pattern$`); null when JS cannot express it. */
export function perlPattern(pattern: string): RegExp | null {
  let re = regexCache.get(pattern)
  if (re !== undefined) return re
  let flags = ''
  const src = pattern
    .replace(/\(\?\^([a-z]*):/g, (_, f: string) => { if (f.includes('i')) flags = 'i'; return '(?:' })
    .replace(/\{,(\d+)\}/g, '{0,$1}')
  try { re = new RegExp(`^(?:${src})$`, flags) } catch { re = null }
  regexCache.set(pattern, re)
  return re
}

const isInteger = (v: string) => /^[+-]?\d+$/.test(v)
const isNumber = (v: string) => /^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$/.test(v)
const parseBoolean = (v: string) => (/^(1|on|yes|true)$/i.test(v) ? '1' : /^(0|off|no|false)$/i.test(v) ? '0' : v)

function addError(errors: Errors, path: string, msg: string) {
  errors[path] = errors[path] ? `${errors[path]}\\n${msg}` : msg
}

function resolveKeySchema(properties: Record<string, ParamSchema>, key: string): ParamSchema | undefined {
  if (properties[key]) return properties[key]
  const m = /^([a-z]+)(\d+)$/.exec(key)
  if (!m) return undefined
  const family = properties[`${m[1]}[n]`]
  if (!family) return undefined
  const max = MAX_INDEX[m[1]] ?? 255
  return +m[2] <= max && String(+m[2]) === m[2] ? family : undefined
}

/** Validates request parameters; returns PVE's `errors` map (empty when valid). */
export function validateParams(values: Record<string, unknown>, schema: ParametersSchema): Errors {
  const errors: Errors = {}
  const props = schema.properties ?? {}
  for (const [key, s] of Object.entries(props)) {
    if (key.endsWith('[n]')) continue
    if (values[key] === undefined && !s.optional && !s.alias) addError(errors, key, 'property is missing and it is not optional')
  }
  for (const [key, value] of Object.entries(values)) {
    const s = resolveKeySchema(props, key)
    if (!s) {
      if (!schema.additionalProperties) addError(errors, key, 'property is not defined in schema and the schema does not allow additional properties')
      continue
    }
    if (s.requires && values[s.requires] === undefined) addError(errors, s.requires, `missing property - '${key}' requires this property`)
    checkProp(value, s, key, errors)
  }
  return errors
}

function scalar(value: unknown, s: ParamSchema, path: string, errors: Errors): string | undefined {
  if (Array.isArray(value)) {
    if (typeof s.format === 'string' && /-a?list$/.test(s.format)) return value.join(',')
    addError(errors, path, `type check ('${s.type}') failed - got ARRAY`)
    return undefined
  }
  if (value !== null && typeof value === 'object') {
    addError(errors, path, `type check ('${s.type}') failed - got HASH`)
    return undefined
  }
  if (typeof value === 'boolean') {
    if (s.type === 'boolean') return value ? '1' : '0'
    addError(errors, path, `type check ('${s.type}') failed - got JSON::PP::Boolean`)
    return undefined
  }
  return String(value)
}

function checkType(v: string, type: ParamSchema['type'], path: string, errors: Errors): boolean {
  const bad = (type === 'boolean' && v !== '0' && v !== '1') || (type === 'integer' && !isInteger(v)) || (type === 'number' && !isNumber(v))
  if (bad) addError(errors, path, `type check ('${type}') failed - got '${v}'`)
  return !bad
}

function checkProp(value: unknown, s: ParamSchema, path: string, errors: Errors) {
  const v = scalar(value, s, path, errors)
  if (v === undefined) return
  if (!checkType(v, s.type, path, errors)) return
  if (s.format) {
    const err = checkFormat(s.format, v, path)
    if (err !== undefined) return addError(errors, path, `invalid format - ${err}`)
  }
  if (s.pattern) {
    const re = perlPattern(s.pattern)
    if (re && !re.test(v)) return addError(errors, path, 'value does not match the regex pattern')
  }
  if (s.maxLength !== undefined && v.length > s.maxLength) return addError(errors, path, `value may only be ${s.maxLength} characters long`)
  if (s.minLength !== undefined && v.length < s.minLength) return addError(errors, path, `value must be at least ${s.minLength} characters long`)
  if (isNumber(v)) {
    if (s.maximum !== undefined && +v > s.maximum) return addError(errors, path, `value must have a maximum value of ${s.maximum}`)
    if (s.minimum !== undefined && +v < s.minimum) return addError(errors, path, `value must have a minimum value of ${s.minimum}`)
  }
  if (s.enum && !s.enum.includes(v)) addError(errors, path, `value '${v}' does not have a value in the enumeration '${s.enum.join(', ')}'`)
}

/** Returns PVE's die text for a bad value (ends in "\n"), or undefined. */
function checkFormat(format: string | PropertyFormat, v: string, path: string): string | undefined {
  if (typeof format !== 'string') return checkPropertyString(format, v, path)
  if (propertyFormats[format]) return checkPropertyString(propertyFormats[format], v, path)
  const validator = validators[format]
  if (validator) return validator(v)
  const list = /^(.*)-a?list$/.exec(format)
  if (list && (validators[list[1]] || propertyFormats[list[1]])) {
    for (const item of splitList(v)) {
      const err = checkFormat(list[1], item, path)
      if (err !== undefined) return err
    }
    return undefined
  }
  uncheckedFormats.add(format)
  return undefined
}

/** Parses `k=v,k2=v2` like PVE's parse_property_string; throws PVE's die text on syntax errors. */
export function parsePropertyString(format: PropertyFormat, data: string): Record<string, string> {
  const res: Record<string, string> = {}
  let defaultKey: string | undefined
  for (const part of data.split(',')) {
    if (/^\s*$/.test(part)) continue
    const kv = /^([^=]+)=(.+)$/s.exec(part)
    if (kv) {
      let [, k, v] = kv
      if (res[k] !== undefined) throw new Error(`duplicate key in comma-separated list property: ${k}\n`)
      let s = format[k]
      if (s?.alias) {
        if (s.keyAlias) {
          if (res[s.keyAlias] !== undefined) throw new Error(`key alias '${s.keyAlias}' is already defined\n`)
          res[s.keyAlias] = k
        }
        k = s.alias
        s = format[k]
      }
      if (!s) throw new Error(`invalid key in comma-separated list property: ${k}\n`)
      if (s.type === 'boolean') v = parseBoolean(v)
      res[k] = v
    } else if (!part.includes('=')) {
      if (defaultKey) throw new Error(`duplicate key in comma-separated list property: ${defaultKey}\n`)
      defaultKey = Object.keys(format).find((k) => format[k].default_key)
      if (!defaultKey) throw new Error('value without key, but schema does not define a default key\n')
      if (res[defaultKey]) throw new Error(`duplicate key in comma-separated list property: ${defaultKey}\n`)
      res[defaultKey] = part
    } else {
      throw new Error('missing key in comma-separated list property\n')
    }
  }
  return res
}

function checkPropertyString(format: PropertyFormat, data: string, path: string): string | undefined {
  let parsed: Record<string, string>
  try { parsed = parsePropertyString(format, data) } catch (e) { return (e as Error).message }
  const errors: Errors = {}
  for (const [k, s] of Object.entries(format)) {
    if (parsed[k] === undefined) {
      if (!s.optional && !s.alias) addError(errors, `${path}.${k}`, 'property is missing and it is not optional')
      continue
    }
    if (s.requires && parsed[s.requires] === undefined) addError(errors, `${path}.${s.requires}`, `missing property - '${path}.${k}' requires this property`)
    checkProp(parsed[k], s, `${path}.${k}`, errors)
  }
  const keys = Object.keys(errors)
  if (!keys.length) return undefined
  return `format error\n${keys.map((k) => `${k}: ${errors[k]}\n`).join('')}`
}
