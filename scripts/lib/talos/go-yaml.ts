// How gopkg.in/yaml.v3 (the marshaller behind the Image Factory's schematic IDs) writes a string
// scalar in block context: plain when it would read back as the same string, else single-quoted,
// else double-quoted; multi-line strings as literal blocks. Mirrors yaml.v3's encoder
// (stringv + resolve) and its libyaml emitter port (analyze_scalar, select_scalar_style).
// Strings whose bytes depend on emitter corners we do not reproduce are refused, never guessed.

export class UnsupportedScalarError extends Error {}

const OLD_BOOLS = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF'])
const RESOLVE_MAP = new Set(['true', 'True', 'TRUE', 'false', 'False', 'FALSE', '', '~', 'null', 'Null', 'NULL',
  '.nan', '.NaN', '.NAN', '.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF', '-.inf', '-.Inf', '-.INF', '<<'])
const BASE60_FLOAT = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/
// strconv.ParseInt/ParseUint with base 0 (underscores already removed by the caller).
const GO_INT = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/
const MAX_UINT64 = 2n ** 64n - 1n
const MAX_INT64 = 2n ** 63n - 1n

function goIntFits(plain: string): boolean {
  const m = GO_INT.exec(plain)
  if (!m) return false
  const digits = m[2]
  const prefix = digits.slice(0, 2).toLowerCase()
  const value =
    prefix === '0x' || prefix === '0b' || prefix === '0o'
      ? BigInt(digits.replace(/^0o/i, '0o'))
      : digits.length > 1 && digits.startsWith('0')
        ? BigInt(`0o${digits.slice(1)}`)
        : BigInt(digits)
  if (m[1] === '-') return value <= MAX_INT64 + 1n
  return value <= MAX_UINT64
}

// time.Parse layouts yaml.v3 tries: 2006-1-2 with an optional time part.
function isTimestamp(s: string): boolean {
  const m = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:([Tt ])(\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?$/.exec(s)
  if (!m) return false
  const [, y, mo, d, sep, , , , , zone] = m
  if (sep && sep !== ' ' && !zone) return false // the T/t layouts require a zone
  if (sep === ' ' && zone) return false
  const month = Number(mo)
  const day = Number(d)
  if (month < 1 || month > 12 || day < 1) return false
  return day <= new Date(Date.UTC(Number(y), month, 0)).getUTCDate()
}

/** Whether yaml.v3 would read the plain scalar back as something other than a string. */
function resolvesToNonString(s: string): boolean {
  if (RESOLVE_MAP.has(s)) return true
  const c = s[0]
  if (c === '.') return /^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(s)
  if (c === '+' || c === '-' || (c >= '0' && c <= '9')) {
    if (isTimestamp(s)) return true
    const plain = s.replaceAll('_', '')
    if (goIntFits(plain)) return true
    if (YAML_STYLE_FLOAT.test(plain)) return true
    return /^-?0[bB][01]+$/.test(plain) || /^-?0[oO][0-7]+$/.test(plain)
  }
  return false
}

// Characters outside this set make libyaml's output depend on escapes and break handling we do
// not reproduce (NEL, LS, PS, BOM, control characters, astral-plane characters).
const SUPPORTED = /^[\t\n\x20-\x7e\u00a0-\ud7ff\ue000-\ufefe\uff00-\ufffd]*$/u

interface Analysis {
  blockPlainAllowed: boolean
  singleQuotedAllowed: boolean
  blockAllowed: boolean
}

function analyze(s: string): Analysis {
  if (s === '') return { blockPlainAllowed: true, singleQuotedAllowed: true, blockAllowed: false }
  let blockIndicators = s.startsWith('---') || s.startsWith('...')
  let lineBreaks = false
  let tabs = false
  let leadingSpace = false
  let leadingBreak = false
  let trailingSpace = false
  let trailingBreak = false
  let breakSpace = false
  let spaceBreak = false
  let precededByWhitespace = true
  let previousSpace = false
  let previousBreak = false
  const chars = [...s]
  chars.forEach((ch, i) => {
    const next = chars[i + 1]
    const followedByWhitespace = next === undefined || next === ' ' || next === '\t' || next === '\n'
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(ch)) blockIndicators = true
      else if ((ch === '?' || ch === ':' || ch === '-') && followedByWhitespace) blockIndicators = true
    } else if (ch === ':' && followedByWhitespace) blockIndicators = true
    else if (ch === '#' && precededByWhitespace) blockIndicators = true
    if (ch === '\t') tabs = true
    if (ch === ' ') {
      if (i === 0) leadingSpace = true
      if (i === chars.length - 1) trailingSpace = true
      if (previousBreak) breakSpace = true
      previousSpace = true
      previousBreak = false
    } else if (ch === '\n') {
      lineBreaks = true
      if (i === 0) leadingBreak = true
      if (i === chars.length - 1) trailingBreak = true
      if (previousSpace) spaceBreak = true
      previousSpace = false
      previousBreak = true
    } else {
      previousSpace = false
      previousBreak = false
    }
    precededByWhitespace = ch === ' ' || ch === '\t' || ch === '\n'
  })
  let blockPlainAllowed = !(leadingSpace || leadingBreak || trailingSpace || trailingBreak || breakSpace || spaceBreak || tabs || lineBreaks || blockIndicators)
  const singleQuotedAllowed = !(breakSpace || spaceBreak || tabs)
  const blockAllowed = !(trailingSpace || spaceBreak)
  if (!singleQuotedAllowed) blockPlainAllowed = false
  return { blockPlainAllowed, singleQuotedAllowed, blockAllowed }
}

function doubleQuoted(s: string): string {
  return `"${s.replace(/[\\"\t\n]/g, (c) => ({ '\\': '\\\\', '"': '\\"', '\t': '\\t', '\n': '\\n' })[c]!)}"`
}

const singleQuoted = (s: string) => `'${s.replaceAll("'", "''")}'`

/**
 * The text yaml.v3 writes after `key: ` or `- ` for string `s` in block context. `indent` is the
 * column of literal-block content (multi-line values only).
 */
export function goYamlString(s: string, indent: number): string {
  if (!SUPPORTED.test(s)) throw new UnsupportedScalarError(`contains characters whose YAML form is not reproduced locally: ${JSON.stringify(s)}`)
  const a = analyze(s)
  if (s.includes('\n')) {
    if (!a.blockAllowed) return doubleQuoted(s)
    if (s.startsWith('\n')) throw new UnsupportedScalarError(`a multi-line value starting with a line break is not reproduced locally: ${JSON.stringify(s)}`)
    return literal(s, indent)
  }
  const plainRequested = !resolvesToNonString(s) && !BASE60_FLOAT.test(s) && !OLD_BOOLS.has(s)
  if (!plainRequested) return doubleQuoted(s)
  if (a.blockPlainAllowed) return s
  return a.singleQuotedAllowed ? singleQuoted(s) : doubleQuoted(s)
}

// A literal block: `|` with libyaml's hints (indentation indicator when the text starts with a
// space; `-` strip without a final break, `+` keep for more than one), then the lines indented.
function literal(s: string, indent: number): string {
  const indentHint = s.startsWith(' ') ? '4' : ''
  const chomp = !s.endsWith('\n') ? '-' : s.length === 1 || s.endsWith('\n\n') ? '+' : ''
  const body = s.endsWith('\n') ? s.slice(0, -1) : s
  const pad = ' '.repeat(indent)
  const lines = body.split('\n').map((line) => (line === '' ? '' : pad + line))
  return `|${indentHint}${chomp}\n${lines.join('\n')}`
}
