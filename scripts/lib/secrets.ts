// The registry of secret values. Everything the tool prints goes through redact(); secrets are
// registered the moment they are read (pass, environment), raw and URL-encoded.

const secrets = new Set<string>()
const MASK = '***'

export function registerSecret<T extends string | undefined>(value: T): T {
  if (value && value.length >= 4) {
    secrets.add(value)
    const encoded = encodeURIComponent(value)
    if (encoded !== value) secrets.add(encoded)
  }
  return value
}

export function redact(text: string): string {
  let out = text
  for (const s of secrets) if (out.includes(s)) out = out.replaceAll(s, MASK)
  return out
}

/** Redacts any value for printing: strings directly, everything else through JSON. */
export function redactValue(value: unknown): string {
  return redact(typeof value === 'string' ? value : JSON.stringify(value))
}

export function hasSecrets(): boolean {
  return secrets.size > 0
}
