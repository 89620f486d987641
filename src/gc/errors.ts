/** Errors of the automatic GC. Tests and the config loader match on `name`. */
import { EmergenceError } from '../util/errors.ts'

/** A GC setting (a watermark, a size, an interval) that does not parse; the message says what form it takes. */
export class InvalidGcSettingError extends EmergenceError {
  constructor (message: string) {
    super(message, { code: 'GC_SETTING_INVALID' })
  }
}
