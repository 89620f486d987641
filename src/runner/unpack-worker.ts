/**
 * Applies layers in a worker thread, so that hashing, decompression, tar parsing and the unpacker's many small
 * synchronous file system calls never block the caller's event loop (CPU-heavy work stays off it).
 * This file is both sides: `applyLayersInWorker` on the caller's thread, and the worker's entry point.
 *
 * Errors cross the thread boundary as plain data and are rebuilt as the same classes, so callers still match
 * on `name` (and `instanceof` works for the runner's and the store's errors).
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { EmergenceError } from '../util/errors.ts'
import type { Logger, LogLevel } from '../util/logger.ts'
import * as runnerErrors from './errors.ts'
import * as storeErrors from '../store/errors.ts'
import { UnpackError } from './errors.ts'
import { applyLayers, applyLayerStack, type ApplyOptions, type LayerJob, type StackLayer } from './layer-stream.ts'
import type { UnpackLimits } from './unpack-limits.ts'

interface WorkerRequest {
  jobs: LayerJob[]
  root: string
  privileged: boolean
  limits?: UnpackLimits
  /** Set: unpack these layers each on its own (applyLayerStack) instead of `jobs` onto `root`. */
  stack?: StackLayer[]
}

interface SerializedError {
  name: string
  message: string
  stack?: string
  /** Own enumerable string and number fields (code, digest, expected, actual, entry...). */
  fields: Record<string, string | number | null>
  cause?: { name: string, message: string, code?: string }
}

type WorkerMessage =
  | { kind: 'log', level: LogLevel, message: string }
  | { kind: 'done' }
  | { kind: 'error', error: SerializedError }

/** Marks the worker data as ours, since this module is the worker's entry point. */
const REQUEST_KEY = 'emergenceUnpackLayers'

type ErrorClass = abstract new (...args: never[]) => Error
const REVIVABLE = new Map<string, ErrorClass>(
  ([...Object.values(runnerErrors), ...Object.values(storeErrors)] as unknown[])
    .filter((value): value is ErrorClass => typeof value === 'function' && value.prototype instanceof EmergenceError)
    .map(cls => [cls.name, cls])
)

function serializeError (err: unknown): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err), fields: {} }
  const fields: Record<string, string | number | null> = {}
  for (const [key, value] of Object.entries(err)) {
    if (typeof value === 'string' || typeof value === 'number' || value === null) fields[key] = value
  }
  const cause = err.cause instanceof Error
    ? { name: err.cause.name, message: err.cause.message, ...(typeof (err.cause as NodeJS.ErrnoException).code === 'string' ? { code: (err.cause as NodeJS.ErrnoException).code as string } : {}) }
    : undefined
  return { name: err.name, message: err.message, ...(err.stack !== undefined ? { stack: err.stack } : {}), fields, ...(cause !== undefined ? { cause } : {}) }
}

/** Rebuilds an error of the same class (without running its constructor) from its serialized form. */
export function reviveError (data: SerializedError): Error {
  const cls = REVIVABLE.get(data.name)
  const err: Error = cls !== undefined ? Object.create(cls.prototype) as Error : new Error(data.message)
  Object.defineProperty(err, 'message', { value: data.message, writable: true, configurable: true })
  Object.assign(err, data.fields, { name: data.name })
  if (data.stack !== undefined) Object.defineProperty(err, 'stack', { value: data.stack, writable: true, configurable: true })
  if (data.cause !== undefined) {
    const cause = Object.assign(new Error(data.cause.message), { name: data.cause.name }, data.cause.code !== undefined ? { code: data.cause.code } : {})
    Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true })
  }
  return err
}

/**
 * Applies `jobs` to `root` in a new worker thread. Aborting `options.signal` terminates the worker (no file
 * operation runs after this returns or throws), then rejects with the abort reason.
 */
export async function applyLayersInWorker (jobs: LayerJob[], root: string, options: ApplyOptions): Promise<void> {
  const request: WorkerRequest = { jobs, root, privileged: options.privileged, ...(options.limits !== undefined ? { limits: options.limits } : {}) }
  await runWorker(request, root, options)
}

/** applyLayerStack in a worker thread, with the same guarantees as applyLayersInWorker. */
export async function applyStackInWorker (stack: StackLayer[], options: ApplyOptions): Promise<void> {
  const request: WorkerRequest = { jobs: [], root: stack[0]?.root ?? '', stack, privileged: options.privileged, ...(options.limits !== undefined ? { limits: options.limits } : {}) }
  await runWorker(request, request.root, options)
}

async function runWorker (request: WorkerRequest, root: string, options: ApplyOptions): Promise<void> {
  options.signal?.throwIfAborted()
  const worker = new Worker(new URL(import.meta.url), { workerData: { [REQUEST_KEY]: request } })
  let outcome: { error: unknown } | 'done' | undefined
  const onAbort = (): void => {
    outcome ??= { error: options.signal?.reason }
    void worker.terminate()
  }
  options.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (message: WorkerMessage) => {
        if (message.kind === 'log') options.logger[message.level](message.message)
        else if (message.kind === 'done') outcome ??= 'done'
        else outcome ??= { error: reviveError(message.error) }
      })
      worker.on('error', err => { outcome ??= { error: err } })
      // Settle on exit only: by then the worker has stopped touching the rootfs.
      worker.on('exit', code => {
        if (outcome === 'done') resolve()
        else reject(outcome?.error ?? new UnpackError(root, new Error(`the unpack worker exited with code ${code}`)))
      })
    })
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
}

function workerLogger (port: NonNullable<typeof parentPort>): Logger {
  const post = (level: LogLevel) => (message: string): void => { port.postMessage({ kind: 'log', level, message } satisfies WorkerMessage) }
  return { error: post('error'), warn: post('warn'), info: post('info'), debug: post('debug') }
}

async function workerMain (port: NonNullable<typeof parentPort>, request: WorkerRequest): Promise<void> {
  try {
    const options: ApplyOptions = {
      logger: workerLogger(port),
      privileged: request.privileged,
      ...(request.limits !== undefined ? { limits: request.limits } : {})
    }
    if (request.stack !== undefined) await applyLayerStack(request.stack, options)
    else await applyLayers(request.jobs, request.root, options)
    port.postMessage({ kind: 'done' } satisfies WorkerMessage)
  } catch (err) {
    port.postMessage({ kind: 'error', error: serializeError(err) } satisfies WorkerMessage)
  }
}

const request = isMainThread ? undefined : (workerData as Record<string, WorkerRequest> | null)?.[REQUEST_KEY]
if (parentPort !== null && request !== undefined) await workerMain(parentPort, request)
