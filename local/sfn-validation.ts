import { SfnError } from './sfn-error';

/**
 * Step Functions' request validation, as the service answers it (docs/local-vs-aws.md cites the pages):
 * - a member of the wrong JSON type is refused by the JSON 1.0 protocol itself before the operation runs
 *   (400 `SerializationException`), e.g. a StartExecution `input` that is an object instead of a string;
 * - a malformed ARN is `InvalidArn`; an execution name breaking the documented character rules or longer than 80
 *   characters is `InvalidName`; a `statusFilter` outside the enum is `ValidationException`.
 */

/** The string members of the requests the local API serves (a number or object there is a serialization error). */
const STRING_MEMBERS = [
  'stateMachineArn',
  'executionArn',
  'stateMachineAliasArn',
  'name',
  'input',
  'output',
  'error',
  'cause',
  'taskToken',
  'statusFilter',
  'nextToken',
  'description',
  'revisionId',
  'traceHeader',
];

export function checkMemberTypes(body: Record<string, unknown>): void {
  for (const member of STRING_MEMBERS) {
    const value = body[member];
    if (value === undefined || value === null || typeof value === 'string') continue;
    const message =
      typeof value === 'object'
        ? 'Start of structure or map found where not expected.'
        : `${typeof value === 'number' ? 'NUMBER_VALUE' : 'BOOLEAN_VALUE'} can not be converted to a String`;
    throw new SfnError('SerializationException', `${message} (member '${member}' must be a string)`);
  }
}

/**
 * An execution name as StartExecution validates it (API reference, StartExecution `name`): 1-80 characters, none of
 * white space, brackets `< > { } [ ]`, wildcards `? *`, special characters `" # % \ ^ | ~ \` $ & , ; : /`, control
 * characters (U+0000-001F, U+007F-009F), U+FFFE-FFFF or unpaired surrogates. `run.v1` is valid.
 */
export function checkExecutionName(name: string): void {
  const chars = [...name];
  const bad = chars.find((c) => {
    const code = c.codePointAt(0) ?? 0;
    return (
      /\s/u.test(c) ||
      '<>{}[]?*"#%\\^|~`$&,;:/'.includes(c) ||
      code <= 0x1f ||
      (code >= 0x7f && code <= 0x9f) ||
      code === 0xfffe ||
      code === 0xffff ||
      (code >= 0xd800 && code <= 0xdfff)
    );
  });
  if (chars.length < 1 || chars.length > 80 || bad !== undefined) {
    const why = bad !== undefined ? `it contains ${JSON.stringify(bad)}` : `it has ${chars.length} characters`;
    throw new SfnError(
      'InvalidName',
      `Invalid Name: '${name}' (${why}; a name has 1-80 characters and no white space, brackets < > { } [ ], wildcards ? *, special characters " # % \\ ^ | ~ \` $ & , ; : / or control characters)`,
    );
  }
}

const ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:([A-Za-z]+):(.+)$/;

/**
 * A Step Functions ARN of `kind` (`stateMachine`, `execution`); `InvalidArn` when it is not one, as the service
 * answers before looking the resource up.
 */
export function checkArn(arn: unknown, kind: 'stateMachine' | 'execution', member: string): string {
  const text = typeof arn === 'string' ? arn : '';
  const match = ARN.exec(text);
  if (!match || match[1] !== kind || text.length > 2048) {
    throw new SfnError('InvalidArn', `Invalid Arn: '${text}' (${member} must be a ${kind} ARN, arn:aws:states:<region>:<account>:${kind}:<name>…)`);
  }
  return text;
}

/** ListExecutions' statusFilter values (API reference, ListExecutions). */
export const EXECUTION_STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'] as const;

export function checkStatusFilter(filter: unknown): void {
  if (filter === undefined || filter === null || (EXECUTION_STATUSES as readonly unknown[]).includes(filter)) return;
  throw new SfnError(
    'ValidationException',
    `1 validation error detected: Value '${String(filter)}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [${EXECUTION_STATUSES.join(', ')}]`,
  );
}
