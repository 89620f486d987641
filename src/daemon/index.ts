/**
 * The daemon: configuration (`config.ts`), the node process (`daemon.ts`) and the local control API that the CLI
 * talks to over a unix socket in the data dir (`control-server.ts`, `control-client.ts`).
 */
export * from './errors.ts'
export * from './config.ts'
export * from './daemon.ts'
export { controlRequest, type ControlOptions } from './control-client.ts'
