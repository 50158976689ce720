/**
 * The handlers' validation library: zod's `zod/mini` (same checks, a fraction of the bundle; the config schema in
 * lambdas/core/config.ts keeps the full zod, used at synth and offline), with the English messages the full zod gives.
 * Only the pieces used are imported (a namespace import would keep all of zod/mini, every locale included).
 */

import { en } from 'zod/locales';
import { config, describe, enum as enumOf, int, maximum, maxLength, minimum, minLength, number, object, optional, positive, refine, strictObject, string, toJSONSchema, trim } from 'zod/mini';

config(en());

export const z = { describe, enum: enumOf, int, maximum, maxLength, minimum, minLength, number, object, optional, positive, refine, strictObject, string, toJSONSchema, trim };

/** The issues of a failed parse, as "path: message" lines read them. */
export interface ValidationIssues {
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>;
}
