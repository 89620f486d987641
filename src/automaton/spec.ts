/**
 * The automaton spec: what to run (an image ref or a Nix store path), how (args, env, cwd, user), the state it
 * keeps (a directory of the host, under the data dir, bind-mounted read-write), and when to start it again.
 * YAML or JSON; every key is checked, unknown keys included, and an error names the first bad key.
 *
 * ```yaml
 * name: counter
 * artefact: app/counter:1            # or /nix/store/<hash>-counter
 * process:
 *   args: [/bin/sh, -c, 'echo $((n+1)) > /state/n']
 *   env: { GREETING: hello }
 *   cwd: /
 *   user: "1000:1000"
 * state: /state                      # where the state directory appears in the container
 * restart: on-failure                # no (default) | on-failure | always
 * ```
 */
import { posix } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { InvalidSpecError } from './errors.ts'

/** A name is also the container id and a directory name: runc's id characters, 1-64 of them. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
/** Spec files are a few lines; refuse anything large before parsing it. */
export const MAX_SPEC_BYTES = 64 * 1024

const absolutePath = z.string().refine(path => path.startsWith('/') && posix.normalize(path) === path && path !== '/', 'must be an absolute, normalized path other than /')

export const automatonSpecSchema = z.strictObject({
  name: z.string().regex(NAME, 'must be 1-64 letters, digits, _ . - (starting with a letter or digit)'),
  artefact: z.string().min(1, 'must name an image (name:tag, name@digest) or a /nix/store path'),
  process: z.strictObject({
    args: z.array(z.string()).min(1, 'must not be empty').optional(),
    env: z.record(z.string().regex(ENV_NAME, 'is not an environment variable name'), z.string()).optional(),
    cwd: absolutePath.optional(),
    user: z.string().min(1).optional()
  }).optional(),
  state: absolutePath.optional(),
  restart: z.enum(['no', 'on-failure', 'always']).optional()
})
export type AutomatonSpec = z.infer<typeof automatonSpecSchema>

/** `process.args[0]` from a zod issue path. */
function keyOf (path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((key, part) => typeof part === 'number' ? `${key}[${part}]` : key === '' ? String(part) : `${key}.${String(part)}`, '')
}

/** Validates a parsed spec; throws InvalidSpecError naming the first bad key (unknown keys included). */
export function validateSpec (value: unknown, source = 'spec'): AutomatonSpec {
  const result = automatonSpecSchema.safeParse(value)
  if (result.success) return result.data
  const issue = result.error.issues[0]
  if (issue === undefined) throw new InvalidSpecError(source, '', 'invalid')
  if (issue.code === 'unrecognized_keys') {
    const key = keyOf([...issue.path, issue.keys[0] ?? ''])
    throw new InvalidSpecError(source, key, `unknown key (expected one of: ${expectedKeys(issue.path)})`)
  }
  throw new InvalidSpecError(source, keyOf(issue.path), issue.message)
}

function expectedKeys (path: ReadonlyArray<PropertyKey>): string {
  const shape = path.length === 0 ? automatonSpecSchema.shape : path[0] === 'process' ? automatonSpecSchema.shape.process.unwrap().shape : {}
  return Object.keys(shape).join(', ')
}

/** Parses a spec file's text (YAML, of which JSON is a subset); throws InvalidSpecError. */
export function parseSpec (text: string, source = 'spec'): AutomatonSpec {
  if (Buffer.byteLength(text) > MAX_SPEC_BYTES) throw new InvalidSpecError(source, '', `larger than ${MAX_SPEC_BYTES} bytes`)
  let value: unknown
  try {
    value = parseYaml(text, { maxAliasCount: 16 })
  } catch (err) {
    throw new InvalidSpecError(source, '', `not YAML or JSON: ${(err as Error).message.split('\n')[0] ?? ''}`, err)
  }
  return validateSpec(value, source)
}

/** Returns `name` when it is a valid automaton name; throws InvalidSpecError (key `name`) otherwise. */
export function checkAutomatonName (name: string): string {
  if (!NAME.test(name)) throw new InvalidSpecError(JSON.stringify(name), 'name', 'must be 1-64 letters, digits, _ . - (starting with a letter or digit)')
  return name
}

/** True when the artefact is a Nix store path (or a file in one), false for an image ref. */
export function isNixArtefact (spec: AutomatonSpec): boolean {
  return spec.artefact.startsWith('/nix/store/')
}
