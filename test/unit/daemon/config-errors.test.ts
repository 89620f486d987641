/** A bad configuration stops the node with one line naming where the value came from: file and key, variable, flag. */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { loadConfig } from '../../../src/daemon/config.ts'

describe('config errors', () => {
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'config-errors-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  async function fileError (yaml: string): Promise<string> {
    const file = join(dir, 'config.yaml')
    await writeFile(file, yaml)
    const err = await loadConfig(dir, { env: {} }).then(() => undefined, (e: Error) => e)
    assert.ok(err !== undefined, 'expected the config to be refused')
    assert.equal(err.name, 'InvalidConfigError')
    assert.doesNotMatch(err.message, /\n/)
    assert.ok(err.message.startsWith(`${file}: `), err.message)
    return err.message.slice(file.length + 2)
  }

  it('an unknown key is named, with the key it was probably meant to be', async () => {
    assert.match(await fileError('nixcache: off\n'), /^unknown key "nixcache" \(did you mean nixCache\?\); the keys are listen, /)
    assert.match(await fileError('colour: blue\n'), /^unknown key "colour"; the keys are /)
    assert.match(await fileError('bootstrapp: []\n'), /^unknown key "bootstrapp" \(did you mean bootstrap\?\)/)
    assert.match(await fileError('gcHighWatermak: 90%\n'), /^unknown key "gcHighWatermak" \(did you mean gcHighWatermark\?\)/)
    assert.match(await fileError('trustedpeer: []\n'), /^unknown key "trustedpeer" \(did you mean trustedPeers\?\)/)
  })

  it('a host:port where a multiaddr belongs names the key and index, and the multiaddr meant', async () => {
    assert.equal(await fileError('listen: [127.0.0.1:7701]\n'), 'listen[0]: "127.0.0.1:7701" is not a multiaddr: write it as /ip4/127.0.0.1/tcp/7701')
    assert.match(await fileError('bootstrap: [/ip4/10.0.0.1/tcp/7701/p2p/x, "a b"]\n'), /^bootstrap\[1\]: "a b" is not a multiaddr/)
  })

  it('a bad GC setting names its key and the form it takes', async () => {
    assert.match(await fileError('gcHighWatermark: lots\n'), /^gcHighWatermark: invalid percentage "lots": use a share of the disk, e.g. 90%/)
    assert.match(await fileError('gcMaxStoreSize: 5 parsecs\n'), /^gcMaxStoreSize: .*invalid size "5 parsecs"/)
    assert.match(await fileError('gcInterval: often\n'), /^gcInterval: .*invalid interval "often"/)
    await rm(join(dir, 'config.yaml'), { force: true })
    await assert.rejects(loadConfig(dir, { env: { EMERGENCE_GC_MAX_STORE_SIZE: 'big' } }), { message: /^EMERGENCE_GC_MAX_STORE_SIZE: invalid size "big"/ })
    await assert.rejects(loadConfig(dir, { env: {}, flags: { gcInterval: 'soon' } }), { message: /^--gc-interval: invalid interval "soon"/ })
    await assert.rejects(loadConfig(dir, { env: {}, flags: { gcLowWatermark: '95%' } }), { name: 'InvalidConfigError', message: /^gcLowWatermark \(95%\) is above gcHighWatermark \(90%\)/ })
  })

  it('a watermark is a percentage or a fraction, from a variable or a flag as from the file', async () => {
    await rm(join(dir, 'config.yaml'), { force: true })
    const config = await loadConfig(dir, { env: { EMERGENCE_GC_HIGH_WATERMARK: '0.95' }, flags: { gcLowWatermark: '0.5' } })
    assert.deepEqual([config.gcHighWatermark, config.gcLowWatermark], [0.95, 0.5])
    await assert.rejects(loadConfig(dir, { env: { EMERGENCE_GC_HIGH_WATERMARK: '1.5' } }), { message: /^EMERGENCE_GC_HIGH_WATERMARK: invalid percentage "1.5"/ })
  })

  it('a bad rate or address names its key', async () => {
    assert.match(await fileError('uploadLimit: fast\n'), /^uploadLimit: invalid rate "fast"/)
    assert.match(await fileError('nixCache: "7702"\n'), /^nixCache: invalid address "7702"/)
  })

  it('environment variables and flags are checked by the same rules and named', async () => {
    await rm(join(dir, 'config.yaml'), { force: true })
    await assert.rejects(loadConfig(dir, { env: { EMERGENCE_NIX_CACHE: 'bogus' } }), { message: /^EMERGENCE_NIX_CACHE: invalid address "bogus"/ })
    await assert.rejects(loadConfig(dir, { env: { EMERGENCE_LISTEN: '0.0.0.0:7701' } }), { message: /^EMERGENCE_LISTEN: "0.0.0.0:7701" is not a multiaddr: write it as \/ip4\/0.0.0.0\/tcp\/7701$/ })
    await assert.rejects(loadConfig(dir, { env: {}, flags: { listen: ['10.0.0.1:7701'] } }), { message: /^--listen: "10.0.0.1:7701" is not a multiaddr/ })
    await assert.rejects(loadConfig(dir, { env: {}, flags: { nixCache: 'nope' } }), { message: /^--nix-cache: / })
    const good = await loadConfig(dir, { env: { EMERGENCE_LISTEN: '/ip4/127.0.0.1/tcp/0' }, flags: { nixCache: 'off' } })
    assert.deepEqual(good.listen, ['/ip4/127.0.0.1/tcp/0'])
    assert.equal(good.nixCache, 'off')
  })
})
