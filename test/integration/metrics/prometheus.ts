/** Reading Prometheus's text format (what `/metrics` answers) in tests: samples by name and labels. */

export interface Sample {
  labels: Record<string, string>
  value: number
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** Every sample of `name` whose labels include `labels`. */
export function samples (text: string, name: string, labels: Record<string, string> = {}): Sample[] {
  const found: Sample[] = []
  for (const line of text.split('\n')) {
    const match = LINE.exec(line)
    if (match === null || match[1] !== name) continue
    const own = Object.fromEntries([...(match[2] ?? '').matchAll(LABEL)].map(m => [m[1] ?? '', m[2] ?? '']))
    if (Object.entries(labels).every(([k, v]) => own[k] === v)) found.push({ labels: own, value: Number(match[3]) })
  }
  return found
}

/** The value of the one sample of `name` with `labels`; undefined when there is none. */
export function sample (text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  return samples(text, name, labels)[0]?.value
}
