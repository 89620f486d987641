/** The CLI's side of the control API (see control-server.ts). */
import { request } from 'node:http'
import { isErrno } from '../util/errors.ts'
import { ControlRequestError, DaemonNotRunningError } from './errors.ts'

export interface ControlOptions {
  body?: unknown
  /** Called with each streamed event of an NDJSON answer. */
  onEvent?: (event: unknown) => void
  signal?: AbortSignal
  /** Give up when the daemon does not answer within this many ms (default 10 s; 0 = wait for streams). */
  timeoutMs?: number
}

interface Line { event?: unknown, done?: unknown, error?: { code: string, message: string } }

function toError (line: Line | undefined, status: number | undefined): ControlRequestError {
  return new ControlRequestError(line?.error?.message ?? `control request failed with status ${String(status)}`, line?.error?.code ?? 'CONTROL_FAILED')
}

/** A stream that ended before its `done` line: the node stopped or died mid-answer (Node itself says "aborted"). */
function closedEarly (): ControlRequestError {
  return new ControlRequestError('the node closed the stream before it finished (did its process stop?)', 'CONTROL_FAILED')
}

/** Sends one request; resolves with the JSON answer, or the `done` value of a stream. */
export async function controlRequest (socketPath: string, method: string, path: string, options: ControlOptions = {}): Promise<unknown> {
  return await new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { 'content-type': 'application/json' }, ...(options.signal !== undefined ? { signal: options.signal } : {}) }, res => {
      res.setEncoding('utf8')
      let buffer = ''
      let last: Line | undefined
      const streaming = (res.headers['content-type'] ?? '').includes('ndjson')
      const consume = (line: string): void => {
        if (line.trim() === '') return
        const parsed = JSON.parse(line) as Line
        last = parsed
        if (parsed.event !== undefined) options.onEvent?.(parsed.event)
      }
      res.on('data', (chunk: string) => {
        buffer += chunk
        if (!streaming) return
        let newline = buffer.indexOf('\n')
        while (newline !== -1) {
          consume(buffer.slice(0, newline))
          buffer = buffer.slice(newline + 1)
          newline = buffer.indexOf('\n')
        }
      })
      res.on('end', () => {
        try {
          if (!streaming) last = buffer === '' ? {} : JSON.parse(buffer) as Line
          else consume(buffer)
        } catch {
          reject(new ControlRequestError('the node sent an unreadable answer', 'CONTROL_FAILED'))
          return
        }
        if (res.statusCode !== 200 || last?.error !== undefined) { reject(toError(last, res.statusCode)); return }
        if (!streaming) { resolve(last); return }
        if (last === undefined || !('done' in last)) { reject(closedEarly()); return }
        resolve(last.done)
      })
      // The node's process died mid-answer (killed, crashed): Node says only "aborted", which tells the user nothing.
      res.on('error', () => { reject(closedEarly()) })
    })
    const timeout = options.timeoutMs ?? 10_000
    if (timeout > 0) req.setTimeout(timeout, () => { req.destroy(new ControlRequestError(`the node did not answer within ${timeout} ms`, 'CONTROL_TIMEOUT')) })
    req.on('error', err => {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ECONNREFUSED')) reject(new DaemonNotRunningError(socketPath))
      else reject(err)
    })
    req.end(options.body !== undefined ? JSON.stringify(options.body) : undefined)
  })
}
