import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { parseConfig } from '../../lib/config';
import {
  assertApprovalTimeout,
  assertExecutionTimeout,
  assertTimeoutChain,
  deriveExecutionTimeout,
  deriveTimeoutChain,
  EXECUTION_MAX_SECONDS,
  worstCaseExecutionSeconds,
} from '../../lib/timeouts';
import { AgentWorkflow, PAUSE_TIMEOUT_SECONDS } from '../../lib/workflow';
import { definitionOf } from '../../local/template';
import { templateFor } from '../helpers/engine';

describe('the timeout chain', () => {
  it('derives client < Lambda < Task from the client timeout', () => {
    const chain = deriveTimeoutChain(20_000);
    expect(chain.lambdaTimeoutSeconds * 1000).toBeGreaterThan(chain.clientTimeoutMs);
    expect(chain.taskTimeoutSeconds).toBeGreaterThan(chain.lambdaTimeoutSeconds);
    expect(assertTimeoutChain('model', chain)).toBe(chain);
  });

  it('refuses a broken chain and names the three values', () => {
    expect(() => assertTimeoutChain('model calls', { clientTimeoutMs: 30_000, lambdaTimeoutSeconds: 25, taskTimeoutSeconds: 40 })).toThrow(
      'model calls: the timeout chain must hold client timeout < Lambda timeout < Task TimeoutSeconds (and Lambda ≤ 900 s); got client 30000 ms, Lambda 25 s, Task 40 s',
    );
    expect(() => assertTimeoutChain('x', deriveTimeoutChain(900_000))).toThrow(/Lambda 910 s/);
  });
});

describe('the machine timeout', () => {
  const loop = {
    maxSteps: 20,
    modelTaskSeconds: 35,
    toolTaskSeconds: 25,
    bookkeepingTaskSeconds: 20,
    maxAttempts: 3,
    maxDelaySeconds: 20,
    hasFallbackModel: true,
    maxToolCallsPerStep: 8,
    toolConcurrency: 4,
    longestWaitSeconds: PAUSE_TIMEOUT_SECONDS,
  };

  it('is above the longest wait plus the worst-case loop, in the synthesized machine', () => {
    const worst = worstCaseExecutionSeconds(loop);
    expect(worst).toBeGreaterThan(PAUSE_TIMEOUT_SECONDS + 20 * 2 * 3 * 35);
    expect(deriveExecutionTimeout(loop)).toBeGreaterThan(worst);
    const definition = definitionOf(templateFor(parseConfig({})));
    const pause = (definition.States as Record<string, { TimeoutSeconds?: number }>).Pause?.TimeoutSeconds ?? 0;
    expect(pause).toBe(PAUSE_TIMEOUT_SECONDS);
    expect(definition.TimeoutSeconds).toBeGreaterThan(pause);
    expect(definition.TimeoutSeconds).toBeLessThanOrEqual(EXECUTION_MAX_SECONDS);
  });

  it('refuses a timeout at or below the worst case, and a worst case past one year', () => {
    const worst = worstCaseExecutionSeconds(loop);
    expect(() => assertExecutionTimeout(worst, loop)).toThrow(/must be above the worst case/);
    expect(() => deriveExecutionTimeout({ ...loop, maxSteps: 10_000, modelTaskSeconds: 900 })).toThrow(/one-year limit/);
  });

  it('cdk synth refuses a machine whose timeout is not above its longest wait', () => {
    const app = new App();
    const stack = new Stack(app, 'Short');
    const fn = (id: string) => lambda.Function.fromFunctionArn(stack, id, `arn:aws:lambda:us-east-1:123456789012:function:${id}`);
    new AgentWorkflow(stack, 'Workflow', {
      loadRun: fn('l'),
      callModel: fn('m'),
      callTool: fn('t'),
      finalize: fn('f'),
      pause: fn('p'),
      timeouts: { model: 35, tool: 25, bookkeeping: 20 },
      retry: { maxAttempts: 3, intervalSeconds: 1, backoffRate: 2, maxDelaySeconds: 20 },
      hasFallbackModel: false,
      executionTimeoutSeconds: 24 * 3600,
    });
    expect(() => app.synth()).toThrow(/must be above the Pause task's timeout/);
  });
});

describe('the approval timeout', () => {
  const loop = {
    maxSteps: 20,
    modelTaskSeconds: 35,
    toolTaskSeconds: 25,
    bookkeepingTaskSeconds: 20,
    maxAttempts: 3,
    maxDelaySeconds: 20,
    hasFallbackModel: false,
    maxToolCallsPerStep: 8,
    toolConcurrency: 4,
    longestWaitSeconds: PAUSE_TIMEOUT_SECONDS,
  };

  it('counts a wait for a decision in every step of the worst case', () => {
    const without = worstCaseExecutionSeconds(loop);
    expect(worstCaseExecutionSeconds({ ...loop, approvalTimeoutSeconds: 86_400 })).toBeGreaterThanOrEqual(without + 20 * 86_400);
    expect(() => deriveExecutionTimeout({ ...loop, maxSteps: 400, approvalTimeoutSeconds: 86_400 })).toThrow(/approvalTimeoutSeconds 86400 s/);
  });

  it('must be below the machine timeout', () => {
    expect(assertApprovalTimeout(86_400, 86_401)).toBe(86_400);
    expect(() => assertApprovalTimeout(86_400, 86_400)).toThrow('approvalTimeoutSeconds (86400 s) must be above 0 and below the state machine timeout (86400 s)');
  });

  it('cdk synth refuses an AwaitApproval task that outlives the machine', () => {
    const app = new App();
    const stack = new Stack(app, 'LongApproval');
    const fn = (id: string) => lambda.Function.fromFunctionArn(stack, id, `arn:aws:lambda:us-east-1:123456789012:function:${id}`);
    new AgentWorkflow(stack, 'Workflow', {
      loadRun: fn('l'),
      callModel: fn('m'),
      callTool: fn('t'),
      finalize: fn('f'),
      pause: fn('p'),
      approval: { handler: fn('a'), timeoutSeconds: 30 * 24 * 3600 },
      timeouts: { model: 35, tool: 25, bookkeeping: 20 },
      retry: { maxAttempts: 3, intervalSeconds: 1, backoffRate: 2, maxDelaySeconds: 20 },
      hasFallbackModel: false,
      executionTimeoutSeconds: 8 * 24 * 3600,
    });
    expect(() => app.synth()).toThrow(/approvalTimeoutSeconds \(2592000 s\) must be above 0 and below the state machine timeout/);
  });
});
