import { createRequire } from 'node:module';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import type { CfnTemplate } from './template';

/**
 * What DynamoDB answers that dynalite 4 does not (its validation drops request members it does not know), added to
 * dynalite itself so every client of the local server sees it:
 * - `ReturnValuesOnConditionCheckFailure: ALL_OLD` on PutItem, UpdateItem and DeleteItem: a failed condition's
 *   `ConditionalCheckFailedException` carries the item as it stood in `Item` (API reference, PutItem:
 *   "ReturnValuesOnConditionCheckFailure … ALL_OLD, the attributes of the item as they appeared before the
 *   operation"). Powertools idempotency relies on it to read the existing record.
 * - `StreamSpecification` on CreateTable: kept, and DescribeTable answers it with `LatestStreamArn` and
 *   `LatestStreamLabel` (API reference, TableDescription), as for a table with a stream.
 */

type AttributeMap = Record<string, unknown>;
interface Validation {
  types: Record<string, unknown>;
  custom?: (data: Record<string, unknown>, store: { tableDb: { awsRegion: string; awsAccountId: string } }) => string | undefined;
}
interface DynaliteError extends Error {
  body: Record<string, unknown>;
}

let patched = false;

export function extendDynalite(): void {
  if (patched) return;
  const require = createRequire(__filename);
  const db = require('dynalite/db') as { checkConditional: (data: Record<string, unknown>, existing?: AttributeMap) => DynaliteError | null };
  for (const action of ['putItem', 'updateItem', 'deleteItem']) {
    const validation = require(`dynalite/validations/${action}`) as Validation;
    validation.types.ReturnValuesOnConditionCheckFailure = { type: 'String', enum: ['ALL_OLD', 'NONE'] };
  }
  const checkConditional = db.checkConditional;
  db.checkConditional = (data, existing) => {
    const err = checkConditional(data, existing);
    if (err && existing && data.ReturnValuesOnConditionCheckFailure === 'ALL_OLD') err.body = { ...err.body, Item: existing };
    return err;
  };

  const createTable = require('dynalite/validations/createTable') as Validation;
  createTable.types.StreamSpecification = {
    type: 'FieldStruct<StreamSpecification>',
    children: { StreamEnabled: { type: 'Boolean', notNull: true }, StreamViewType: { type: 'String', enum: ['NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES', 'KEYS_ONLY'] } },
  };
  const custom = createTable.custom;
  createTable.custom = (data, store) => {
    const refused = custom?.(data, store);
    if (refused) return refused;
    const spec = data.StreamSpecification as { StreamEnabled?: boolean; StreamViewType?: string } | undefined;
    if (spec?.StreamEnabled && !spec.StreamViewType) return 'One or more parameter values were invalid: StreamViewType is required when StreamEnabled is true';
    if (spec?.StreamEnabled) {
      // The stream's label is its creation time (as DynamoDB labels streams), its ARN the table's plus the label.
      const label = new Date().toISOString().replace(/Z$/, '');
      data.LatestStreamLabel = label;
      data.LatestStreamArn = `arn:aws:dynamodb:${store.tableDb.awsRegion}:${store.tableDb.awsAccountId}:table/${String(data.TableName)}/stream/${label}`;
    } else delete data.StreamSpecification;
    return undefined;
  };
  patched = true;
}

/** A table's CreateTable input with the stream the template declares for it (`StreamSpecification`). */
export function withStream(input: CreateTableCommandInput, template: CfnTemplate): CreateTableCommandInput {
  const spec = template.Resources[String(input.TableName)]?.Properties?.StreamSpecification as { StreamViewType?: string } | undefined;
  if (!spec?.StreamViewType) return input;
  return { ...input, StreamSpecification: { StreamEnabled: true, StreamViewType: spec.StreamViewType as 'NEW_IMAGE' } };
}
