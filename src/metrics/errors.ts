/** The metrics subsystem's errors (util/errors.ts: one class per failure, matched by `name`). */
import { EmergenceError } from '../util/errors.ts'

/** The admin endpoint's address is taken by another process. */
export class AdminAddressInUseError extends EmergenceError {
  constructor (address: string) {
    super(`cannot listen on ${address} for the admin endpoint (metrics, health): the address is in use; set admin to another host:port, or off`, { code: 'ADMIN_ADDRESS_IN_USE' })
  }
}
