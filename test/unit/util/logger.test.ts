/** The component logger: JSON lines with time, level and component; levels; the flag over the environment. */
import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { createLogger, currentLogLevel, formatLine, setLogLevel, type LogSink } from '../../../src/util/logger.ts'

/** A sink that keeps the lines written to it, parsed. */
function memorySink (pretty = false): LogSink & { lines: string[], records: () => Array<Record<string, unknown>> } {
  const lines: string[] = []
  return { destination: { write: (line: string) => { lines.push(line) } }, pretty, lines, records: () => lines.map(l => JSON.parse(l) as Record<string, unknown>) }
}

const savedEnv = process.env.EMERGENCE_LOG
afterEach(() => {
  setLogLevel(undefined)
  if (savedEnv === undefined) delete process.env.EMERGENCE_LOG
  else process.env.EMERGENCE_LOG = savedEnv
})

test('a line is one JSON object with time, level, component and message; an Error argument becomes err', () => {
  const sink = memorySink()
  createLogger('daemon', 'debug', sink).warn('announced 3 blobs', new Error('boom'), { extra: 1 })
  assert.equal(sink.lines.length, 1)
  assert.ok(sink.lines[0]?.endsWith('\n'))
  const [record] = sink.records()
  assert.equal(record?.level, 'warn')
  assert.equal(record?.component, 'daemon')
  assert.equal(record?.msg, 'announced 3 blobs')
  assert.match(String(record?.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  assert.equal(typeof record?.pid, 'number')
  assert.equal((record?.err as { message: string }).message, 'boom')
  assert.deepEqual(record?.args, [{ extra: 1 }])
})

test('lines below the level are dropped', () => {
  const sink = memorySink()
  const logger = createLogger('p2p', 'info', sink)
  logger.debug('hidden')
  logger.info('shown')
  logger.error('shown too')
  assert.deepEqual(sink.records().map(r => [r.level, r.msg]), [['info', 'shown'], ['error', 'shown too']])
})

test('EMERGENCE_LOG sets the level, setLogLevel (the --log-level flag) wins over it, for loggers made before too', () => {
  const sink = memorySink()
  const made = createLogger('runner', undefined, sink)
  delete process.env.EMERGENCE_LOG
  assert.equal(currentLogLevel(), 'warn')
  made.info('not at warn')
  process.env.EMERGENCE_LOG = 'debug'
  made.debug('at debug from the environment')
  setLogLevel('error')
  made.warn('not once the flag says error')
  made.error('an error')
  process.env.EMERGENCE_LOG = 'nonsense'
  setLogLevel(undefined)
  assert.equal(currentLogLevel(), 'warn', 'an unknown EMERGENCE_LOG is the default')
  assert.deepEqual(sink.records().map(r => r.msg), ['at debug from the environment', 'an error'])
})

test('on a terminal a line reads `time LEVEL component: message fields`', () => {
  const sink = memorySink(true)
  createLogger('registry', 'info', sink).info('mirror at http://127.0.0.1:7703', { upstreams: 1 })
  assert.match(sink.lines[0] ?? '', /^\d\d:\d\d:\d\d\.\d{3} INFO {2}registry: mirror at http:\/\/127\.0\.0\.1:7703 args=\[\{"upstreams":1\}\]\n$/)
  assert.equal(formatLine('not json\n'), 'not json\n')
})
