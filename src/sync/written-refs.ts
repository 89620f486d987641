/**
 * The refs sync wrote on this node and what they named, in `<data-dir>/sync/written-refs.json`. Sync moves a ref
 * only when it is absent or names something sync wrote there: an image the user had under that name before is
 * never replaced by what a publisher says (docs/security.md). A digest is recorded before the pull that writes
 * it (a pull cut short leaves the ref on its older synced digest, also recorded); the last few are kept per ref.
 * A missing or unreadable file counts as empty.
 */
import { readFile } from 'node:fs/promises'
import { writeFileAtomic } from '../util/fs.ts'

const KEPT_PER_REF = 8

export class WrittenRefs {
  private entries: Map<string, string[]> | undefined

  private readonly file: string

  constructor (file: string) {
    this.file = file
  }

  /** Whether sync wrote `digest` under `ref`. */
  async wrote (ref: string, digest: string): Promise<boolean> {
    return (await this.load()).get(ref)?.includes(digest) ?? false
  }

  async record (ref: string, digest: string): Promise<void> {
    const entries = await this.load()
    const digests = [...(entries.get(ref) ?? []).filter(d => d !== digest), digest].slice(-KEPT_PER_REF)
    entries.set(ref, digests)
    await writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(entries)) + '\n')
  }

  private async load (): Promise<Map<string, string[]>> {
    if (this.entries !== undefined) return this.entries
    let parsed: unknown = {}
    try {
      parsed = JSON.parse(await readFile(this.file, 'utf8'))
    } catch {
      // none yet, or unreadable: sync then moves no ref that names something else
    }
    const entries = new Map<string, string[]>()
    if (typeof parsed === 'object' && parsed !== null) {
      for (const [ref, digests] of Object.entries(parsed)) {
        if (Array.isArray(digests)) entries.set(ref, digests.filter(d => typeof d === 'string'))
      }
    }
    this.entries = entries
    return entries
  }
}
