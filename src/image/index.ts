/**
 * Moving images in and out of the store: import from an OCI image layout directory, an OCI archive or a
 * `docker save` archive; export to an OCI image layout. Imports are transactions: all or nothing.
 */
export * from './errors.ts'
export * from './import-layout.ts'
export * from './import-archive.ts'
export * from './export.ts'
export type { ImportedImage } from './transaction.ts'
