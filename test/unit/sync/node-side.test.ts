/**
 * Sync moves a ref only when it is absent or names something sync wrote: an image the user had under that name is
 * never replaced by what a publisher says (docs/security.md). Fake store and puller; the record file is real.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { nodeFetcher, type NodeSide } from '../../../src/sync/node-side.ts'
import { SyncRefConflictError } from '../../../src/sync/errors.ts'
import { WrittenRefs } from '../../../src/sync/written-refs.ts'
import type { SyncItem } from '../../../src/sync/item.ts'
import type { Digest } from '../../../src/oci/digest.ts'
import { EmergenceError } from '../../../src/util/errors.ts'

const digest = (c: string): Digest => `sha256:${c.repeat(64)}`

/** A store of refs and a puller that writes the ref it is asked to (or fails when `fail` is set). */
function fakeSide (refs: Map<string, string>, written: WrittenRefs): { side: NodeSide, pulls: string[], fail: { next: boolean } } {
  const pulls: string[] = []
  const fail = { next: false }
  const store = {
    resolve: async (ref: string) => {
      const d = refs.get(ref)
      if (d === undefined) throw new EmergenceError(`no ref ${ref}`, { code: 'REF_NOT_FOUND' })
      return { descriptor: { digest: d } }
    }
  }
  const p2p = {
    pullImage: async (ref: string, options: { tagAs: string }) => {
      pulls.push(ref)
      if (fail.next) {
        fail.next = false
        throw new Error('peer vanished')
      }
      refs.set(options.tagAs, ref.slice(ref.indexOf('@') + 1))
      return {}
    }
  }
  return { side: { store, p2p, nix: {}, written } as unknown as NodeSide, pulls, fail }
}

describe('sync and the refs a node already has', () => {
  const dirs: string[] = []
  after(async () => { await Promise.all(dirs.map(async d => { await rm(d, { recursive: true, force: true }) })) })
  const written = async (): Promise<WrittenRefs> => {
    const dir = await mkdtemp(join(tmpdir(), 'emergence-sync-refs-'))
    dirs.push(dir)
    return new WrittenRefs(join(dir, 'written-refs.json'))
  }
  const item = (d: Digest): SyncItem => ({ kind: 'image', ref: 'app/web:1', digest: d })
  const options = { signal: new AbortController().signal, onProgress: () => {} }

  it('writes an absent ref, and moves it later to what the publisher names next', async () => {
    const refs = new Map<string, string>()
    const { side, pulls } = fakeSide(refs, await written())
    await nodeFetcher(side).pull(item(digest('a')), options)
    await nodeFetcher(side).pull(item(digest('b')), options)
    assert.deepEqual(pulls, [`app/web@${digest('a')}`, `app/web@${digest('b')}`])
    assert.equal(refs.get('app/web:1'), digest('b'))
  })

  it('refuses to replace a ref the user had, and pulls nothing', async () => {
    const refs = new Map([['app/web:1', digest('u')]])
    const { side, pulls } = fakeSide(refs, await written())
    await assert.rejects(nodeFetcher(side).pull(item(digest('a')), options), SyncRefConflictError)
    assert.deepEqual(pulls, [])
    assert.equal(refs.get('app/web:1'), digest('u'))
  })

  it('a pull cut short leaves the ref on its older synced digest, which sync may still move', async () => {
    const refs = new Map<string, string>()
    const records = await written()
    const { side, fail } = fakeSide(refs, records)
    await nodeFetcher(side).pull(item(digest('a')), options)
    fail.next = true
    await assert.rejects(nodeFetcher(side).pull(item(digest('b')), options), /peer vanished/)
    assert.equal(refs.get('app/web:1'), digest('a'))
    await nodeFetcher(side).pull(item(digest('b')), options)
    assert.equal(refs.get('app/web:1'), digest('b'))
    assert.equal(await records.wrote('app/web:1', digest('a')), true)
  })
})
