/**
 * The handlers' validation library: zod's `zod/mini` (same checks, a fraction of the bundle; the config schema in
 * lambdas/core/config.ts keeps the full zod, used at synth and offline), with the English messages the full zod gives.
 * Only the pieces used are exported; import them as a namespace (`import * as z from '.../validation'`, then
 * `z.string()`...): a bundle keeps just the pieces its handler calls (an object holding them would keep all of them
 * in every handler, and the JSON Schema generator, ~21 KB, is the tools' only).
 */

import { en } from 'zod/locales';
import { config } from 'zod/mini';

config(en());

export {
  describe,
  enum,
  extend,
  int,
  maximum,
  maxLength,
  minimum,
  minLength,
  nullable,
  number,
  object,
  optional,
  positive,
  record,
  refine,
  strictObject,
  string,
  toJSONSchema,
  trim,
  unknown,
} from 'zod/mini';

/** The issues of a failed parse, as "path: message" lines read them. */
export interface ValidationIssues {
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>;
}
