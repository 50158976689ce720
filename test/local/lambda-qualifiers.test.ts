import { taskFunction } from '../../local/lambda-qualifiers';

describe("the state machine's Lambda invoke: qualifiers as Lambda resolves them", () => {
  const FN = 'arn:aws:lambda:local:000000000000:function:CallModel';
  const functions = new Map([
    [FN, 'function'],
    [`${FN}:3`, 'version 3'],
  ]);

  it('finds the function, a version the template publishes, and $LATEST', () => {
    expect(taskFunction(functions, FN)).toBe('function');
    expect(taskFunction(functions, `${FN}:3`)).toBe('version 3');
    expect(taskFunction(functions, `${FN}:$LATEST`)).toBe('function');
  });

  it('a version or alias that does not exist fails the task with Lambda.ResourceNotFoundException', () => {
    for (const name of [`${FN}:4`, `${FN}:live`, 'arn:aws:lambda:local:000000000000:function:Other']) {
      expect(() => taskFunction(functions, name)).toThrow(
        expect.objectContaining({ name: 'Lambda.ResourceNotFoundException', message: expect.stringContaining(`Function not found: ${name}`) }),
      );
    }
  });
});
