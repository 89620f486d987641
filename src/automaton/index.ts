/**
 * Automata: a workload (an OCI image or a Nix closure plus its process) with its state and restart policy.
 *
 * - `parseSpec` / `validateSpec` read a spec (YAML or JSON, spec.ts); errors name the first bad key.
 * - `startAutomaton`, `listAutomata`, `stopAutomaton`, `removeAutomaton` keep automata under
 *   `<data-dir>/automata/<name>/` (spec, state directory) and run each as one detached runner container of
 *   the same name; its log and exit code are the container's.
 * - `migrate/` moves a running automaton with its state to another node (`MigrationService`, docs/automata.md
 *   "Migration"); it has its own index.
 *
 * @example
 * ```ts
 * const spec = parseSpec(await readFile('counter.yaml', 'utf8'), 'counter.yaml')
 * await startAutomaton({ dataDir, spec, store })
 * ```
 *
 * Errors (matched by `name`): InvalidSpecError, AutomatonNotFoundError, AutomatonRunningError, AutomatonNotRunningError,
 * AutomatonExistsError, and the runner's.
 */
export * from './errors.ts'
export { automatonSpecSchema, checkAutomatonName, parseSpec, validateSpec, isNixArtefact, MAX_SPEC_BYTES, type AutomatonSpec } from './spec.ts'
export { AutomatonPaths, listAutomata, loadAutomaton, removeAutomaton, startAutomaton, stopAutomaton, type AutomatonStatus, type StartAutomatonOptions } from './automata.ts'
