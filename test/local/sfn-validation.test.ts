import { SfnError } from '../../local/sfn-error';
import { checkArn, checkExecutionName, checkMemberTypes, checkStatusFilter } from '../../local/sfn-validation';

const codeOf = (f: () => void): string | undefined => {
  try {
    f();
    return undefined;
  } catch (err) {
    return err instanceof SfnError ? err.name : `not an SfnError: ${String(err)}`;
  }
};

describe('Step Functions request validation, as the API reference documents it', () => {
  it('execution names: 1-80 characters without white space, brackets, wildcards, the listed specials or control characters', () => {
    for (const ok of ['run.v1', 'a', 'x'.repeat(80), 'run_1-2.3', 'é-ünïcode', "it's", '(ok)', '@+=!']) expect(codeOf(() => checkExecutionName(ok))).toBeUndefined();
    const bad = [
      '',
      'x'.repeat(81),
      'a b',
      'a\tb',
      'a\u00a0b',
      ...'<>{}[]?*"#%\\^|~`$&,;:/'.split('').map((c) => `a${c}b`),
      'a\u0000b',
      'a\u001fb',
      'a\u007fb',
      'a\u009fb',
      'a\ufffeb',
      'a\ud800b',
    ];
    for (const name of bad) expect([name, codeOf(() => checkExecutionName(name))]).toEqual([name, 'InvalidName']);
  });

  it('ARNs: a malformed one or one of another kind is InvalidArn', () => {
    expect(codeOf(() => checkArn('arn:aws:states:us-east-1:123456789012:stateMachine:M', 'stateMachine', 'stateMachineArn'))).toBeUndefined();
    expect(codeOf(() => checkArn('arn:aws:states:us-east-1:123456789012:stateMachine:M:live', 'stateMachine', 'stateMachineArn'))).toBeUndefined();
    for (const arn of [
      'nope',
      '',
      undefined,
      'arn:aws:states:us-east-1:123:stateMachine:M',
      'arn:aws:states:us-east-1:123456789012:execution:M:e',
      'arn:aws:lambda:us-east-1:123456789012:function:f',
    ]) {
      expect(codeOf(() => checkArn(arn, 'stateMachine', 'stateMachineArn'))).toBe('InvalidArn');
    }
  });

  it('statusFilter: the enum only; a member of the wrong JSON type is SerializationException', () => {
    for (const ok of [undefined, 'RUNNING', 'PENDING_REDRIVE']) expect(codeOf(() => checkStatusFilter(ok))).toBeUndefined();
    expect(codeOf(() => checkStatusFilter('BOGUS'))).toBe('ValidationException');
    expect(codeOf(() => checkMemberTypes({ input: '{}', name: null }))).toBeUndefined();
    for (const input of [{}, [], 1, true]) expect(codeOf(() => checkMemberTypes({ input }))).toBe('SerializationException');
  });
});
