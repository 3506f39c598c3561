// A YAML file kept together with its parse tree, so any later finding (schema or cross-profile
// rule) can point at file:line:col of the field it is about.
import { readFile } from 'node:fs/promises'
import { LineCounter, parseDocument, isCollection, isMap, isScalar, type Document, type Node as YamlNode, type Pair } from 'yaml'
import type { z } from 'zod'
import type { ConfigIssue } from '../errors.ts'

export interface YamlSource {
  file: string
  value: unknown
  /** Syntax errors (duplicate keys, bad indentation...). */
  issues: ConfigIssue[]
  /** Position of the value at `path`, or of its closest existing ancestor. */
  locate(path: PropertyKey[]): { line?: number; col?: number }
}

export async function readYamlSource(file: string): Promise<YamlSource> {
  return parseYamlSource(file, await readFile(file, 'utf8'))
}

export function parseYamlSource(file: string, text: string): YamlSource {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false })
  const issues: ConfigIssue[] = doc.errors.map((e) => {
    const pos = lineCounter.linePos(e.pos[0])
    return { file, line: pos.line, col: pos.col, path: '', message: e.message.split('\n')[0] }
  })
  const value = issues.length ? undefined : doc.toJS()
  if (!issues.length && (value === null || value === undefined)) issues.push({ file, line: 1, col: 1, path: '', message: 'the file is empty' })
  return { file, value, issues, locate: (path) => locate(doc, lineCounter, path) }
}

// Scalars and flow collections are located at their value; a block section at its key.
function locate(doc: Document, lineCounter: LineCounter, path: PropertyKey[]) {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as unknown[], true) as YamlNode | undefined
    if (!node || typeof node !== 'object' || !('range' in node) || !node.range) continue
    if (n > 0 && isCollection(node) && !node.flow) {
      const parent = doc.getIn(path.slice(0, n - 1) as unknown[], true)
      const pair = isMap(parent) ? (parent.items as Pair[]).find((p) => isScalar(p.key) && p.key.value === path[n - 1]) : undefined
      const key = pair?.key as YamlNode | undefined
      if (key?.range) return lineCounter.linePos(key.range[0])
    }
    return lineCounter.linePos(node.range[0])
  }
  return {}
}

const editDistance = (a: string, b: string): number => {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = cur
    }
  }
  return row[b.length]
}

/** "did you mean" for a misspelt key, among the keys the schema allows at that place. */
export function suggestKey(key: string, allowed: string[]): string | undefined {
  const best = allowed.map((k) => ({ k, d: editDistance(key, k) })).sort((a, b) => a.d - b.d)[0]
  return best && best.d <= Math.max(2, Math.floor(key.length / 3)) ? best.k : undefined
}

function allowedKeysAt(schema: z.ZodType | undefined, path: PropertyKey[]): string[] {
  let cur: any = schema
  for (const seg of path) {
    while (cur?.def && ['optional', 'default', 'nullable', 'pipe', 'prefault'].includes(cur.def.type)) cur = cur.def.innerType ?? cur.def.in
    if (!cur?.def) return []
    if (cur.def.type === 'array') cur = cur.def.element
    else if (cur.def.type === 'object') cur = cur.def.shape[seg as string]
    else return []
  }
  while (cur?.def && ['optional', 'default', 'nullable', 'pipe', 'prefault'].includes(cur.def.type)) cur = cur.def.innerType ?? cur.def.in
  return cur?.def?.type === 'object' ? Object.keys(cur.def.shape) : []
}

/** zod issues → file:line:col issues with readable messages. */
export function zodIssuesToConfigIssues(error: z.ZodError, source: YamlSource, schema?: z.ZodType): ConfigIssue[] {
  const out: ConfigIssue[] = []
  for (const i of error.issues) {
    if (i.code === 'unrecognized_keys') {
      for (const key of i.keys) {
        const hint = suggestKey(key, allowedKeysAt(schema, i.path))
        out.push({ file: source.file, ...source.locate([...i.path, key]), path: [...i.path, key].join('.'), message: `unknown key${hint ? ` (did you mean "${hint}"?)` : ''}` })
      }
      continue
    }
    const message = /received undefined/.test(i.message) ? 'is required' : i.message
    out.push({ file: source.file, ...source.locate(i.path), path: i.path.join('.'), message })
  }
  return out
}
