/**
 * `Accept` negotiation for manifests (docs/registry.md "What it answers"). A client lists the manifest media types it
 * understands; no header, or a wildcard, takes anything. An index the client does not accept is answered, as
 * distribution does, with the manifest of the wanted platform when the client accepts that.
 */
export function acceptedTypes (header: string | string[] | undefined): string[] {
  const values = Array.isArray(header) ? header : header !== undefined ? [header] : []
  return values.flatMap(v => v.split(',')).map(v => (v.split(';')[0] ?? '').trim().toLowerCase()).filter(v => v !== '')
}

export function accepts (accepted: string[], mediaType: string): boolean {
  if (accepted.length === 0) return true
  return accepted.some(type => type === '*/*' || type === 'application/*' || type === mediaType.toLowerCase())
}
