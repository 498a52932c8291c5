// Secret references and the basic path rules, shared by every config section (its own module
// so section schemas can import it without an import cycle through schema.ts).
import { z } from 'zod';

export const nonEmpty = z.string().min(1, 'must not be empty');
export const absPath = nonEmpty.refine((p) => p.startsWith('/'), 'must be an absolute path');

/** A secret is given by reference: exactly one of `file` or `env`. */
export const secretRefSchema = z
  .object({ file: absPath.optional(), env: nonEmpty.optional() })
  .strict()
  .refine((s) => (s.file === undefined) !== (s.env === undefined), 'give exactly one of `file` or `env`');
export type SecretRef = z.infer<typeof secretRefSchema>;
