/**
 * Validated shapes of OCI documents: descriptors, manifests, indexes, configs (docs/formats.md).
 * External JSON is parsed here, at the edge; the rest of the code works with these types.
 */
import { z } from 'zod'
import { isDigest, type Digest } from './digest.ts'
import { InvalidManifestError } from './errors.ts'
import { isIndexMediaType, isManifestMediaType } from './media-types.ts'

/** Manifests, indexes and configs larger than this are refused (containerd and distribution use 4 MiB too). */
export const MAX_JSON_BYTES = 4 * 1024 * 1024

const digestSchema = z.string().refine(isDigest, { message: 'invalid digest' }).transform(d => d as Digest)
const annotations = z.record(z.string(), z.string())

export const platformSchema = z.object({
  architecture: z.string().min(1),
  os: z.string().min(1),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional()
})
export type Platform = z.infer<typeof platformSchema>

export const descriptorSchema = z.object({
  mediaType: z.string().min(1),
  digest: digestSchema,
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  urls: z.array(z.string()).optional(),
  annotations: annotations.optional(),
  data: z.string().optional(),
  artifactType: z.string().optional(),
  platform: platformSchema.optional()
})
export type Descriptor = z.infer<typeof descriptorSchema>

export const manifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: annotations.optional()
})
export type Manifest = z.infer<typeof manifestSchema>

export const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: annotations.optional()
})
export type ImageIndex = z.infer<typeof indexSchema>

export const imageConfigSchema = z.object({
  architecture: z.string().optional(),
  os: z.string().optional(),
  variant: z.string().optional(),
  created: z.string().optional(),
  author: z.string().optional(),
  config: z.object({
    User: z.string().optional(),
    Env: z.array(z.string()).nullish(),
    Entrypoint: z.array(z.string()).nullish(),
    Cmd: z.array(z.string()).nullish(),
    WorkingDir: z.string().optional(),
    Volumes: z.record(z.string(), z.unknown()).nullish(),
    ExposedPorts: z.record(z.string(), z.unknown()).nullish(),
    Labels: z.record(z.string(), z.string()).nullish(),
    StopSignal: z.string().optional()
  }).partial().nullish(),
  rootfs: z.object({
    type: z.literal('layers'),
    diff_ids: z.array(digestSchema)
  }),
  history: z.array(z.record(z.string(), z.unknown())).optional()
})
export type ImageConfig = z.infer<typeof imageConfigSchema>

/** Parses bytes as JSON within MAX_JSON_BYTES; `what` names the document in the error. */
export function parseJsonBytes (bytes: Uint8Array, what: string): unknown {
  if (bytes.byteLength > MAX_JSON_BYTES) {
    throw new InvalidManifestError(`${what} is ${bytes.byteLength} bytes, over the ${MAX_JSON_BYTES}-byte limit`)
  }
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
  } catch (err) {
    throw new InvalidManifestError(`${what} is not valid JSON`, err)
  }
}

function validate<T> (schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value)
  if (!result.success) {
    const issue = result.error.issues[0]
    const where = issue?.path.length !== undefined && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : ''
    throw new InvalidManifestError(`${what} is malformed${where}: ${issue?.message ?? 'invalid'}`)
  }
  return result.data
}

export function parseDescriptor (value: unknown, what = 'descriptor'): Descriptor {
  return validate(descriptorSchema, value, what)
}

export function parseManifest (bytes: Uint8Array): Manifest {
  const manifest = validate(manifestSchema, parseJsonBytes(bytes, 'manifest'), 'manifest')
  if (manifest.mediaType !== undefined && !isManifestMediaType(manifest.mediaType)) {
    throw new InvalidManifestError(`manifest has media type ${manifest.mediaType}, not an image manifest`)
  }
  return manifest
}

export function parseIndex (bytes: Uint8Array): ImageIndex {
  const index = validate(indexSchema, parseJsonBytes(bytes, 'image index'), 'image index')
  if (index.mediaType !== undefined && !isIndexMediaType(index.mediaType)) {
    throw new InvalidManifestError(`image index has media type ${index.mediaType}, not an index`)
  }
  return index
}

export function parseImageConfig (bytes: Uint8Array): ImageConfig {
  return validate(imageConfigSchema, parseJsonBytes(bytes, 'image config'), 'image config')
}
