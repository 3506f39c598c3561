// Positions of fields in a YAML file, so a finding of a cross-profile rule (which runs after the
// schema) can point at file:line:col of the field it is about. Parsing and schema errors are the
// foundation's (config.ts parseYamlText).
import { LineCounter, parseDocument, isCollection, isMap, isScalar, type Document, type Node as YamlNode, type Pair } from 'yaml'

export type Locate = (path: PropertyKey[]) => { line?: number; col?: number }

/** A locator over `text`: scalars and flow collections at their value, block sections at their key. */
export function yamlLocator(text: string): Locate {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter })
  return (path) => locate(doc, lineCounter, path)
}

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
