/**
 * The daemon's automatic GC: a pass (pass.ts) every `intervalMs`, one at a time, and on demand (`POST /v1/gc`).
 * A pass asked for while one runs waits for it and gets its report; `stop()` waits for the pass in progress.
 */
import { describeError } from '../util/errors.ts'
import { silentLogger, type Logger } from '../util/logger.ts'
import { runGcPass, type GcPassOptions, type GcPassReport } from './pass.ts'

export interface AutoGcInit extends GcPassOptions {
  /** Milliseconds between passes; 0: only on demand. */
  intervalMs: number
  /** Told of every pass that ended (the metrics count passes and bytes freed). */
  onPass?: (report: GcPassReport) => void
}

export class AutoGc {
  private readonly init: AutoGcInit
  private readonly logger: Logger
  private timer: NodeJS.Timeout | undefined
  private running: Promise<GcPassReport> | undefined
  private stopped = false
  /** The last pass's report (for status and metrics). */
  last: GcPassReport | undefined

  constructor (init: AutoGcInit) {
    this.init = init
    this.logger = init.logger ?? silentLogger
  }

  /** Schedules the first pass one interval from now (a node that just started has better things to do). */
  start (): void {
    this.schedule()
  }

  private schedule (): void {
    if (this.stopped || this.init.intervalMs <= 0) return
    this.timer = setTimeout(() => {
      this.runNow().catch(err => { this.logger.warn(`gc: pass failed: ${describeError(err)}`) }).finally(() => { this.schedule() })
    }, this.init.intervalMs)
    this.timer.unref()
  }

  /** Runs a pass now, or joins the one in progress. */
  async runNow (): Promise<GcPassReport> {
    this.running ??= runGcPass(this.init).then(report => {
      this.last = report
      this.init.onPass?.(report)
      return report
    }).finally(() => { this.running = undefined })
    return await this.running
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.running?.catch(() => undefined)
  }
}
