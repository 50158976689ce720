import { ArnFormat, Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { loopStates, StepKit, type StepProps, validateWaits } from './loop-states';

/** Express workflows run at most 5 minutes; a segment ends well before (Step Functions quotas). */
export const EXPRESS_MAX_SECONDS = 300;
/**
 * A segment's own timeout, under Express's 5 minutes. A segment hands back to its parent once it has run
 * `hybrid.segmentSeconds`, checked after each model call: the step's tools and one more model call must still fit.
 */
export const SEGMENT_TIMEOUT_SECONDS = 295;
/** The rule Step Functions manages to learn that a `.sync` child has ended (Step Functions IAM page, "StartExecution"). */
export const SYNC_EVENTS_RULE = 'StepFunctionsGetEventsForStepFunctionsExecutionRule';
/** How a segment ended (its exit states set `$.exit`; the parent's AfterSegment routes on it). */
export const SEGMENT_EXITS = ['FINISH', 'SURRENDER', 'DEGRADE', 'REFUSED', 'STOPPED', 'PAUSE', 'APPROVAL', 'NEXT'] as const;

export interface HybridWorkflowProps extends StepProps {
  readonly loadRun: lambda.IFunction;
  /** The parent's TimeoutSeconds (lib/timeouts.ts deriveExecutionTimeout, as the standard machine's). */
  readonly executionTimeoutSeconds: number;
  /** Model steps per segment before it hands the loop back to the parent (config `hybrid.segmentSteps`). */
  readonly segmentSteps: number;
  /** Seconds after which a segment hands the loop back at its next tool-call boundary (config `hybrid.segmentSeconds`). */
  readonly segmentSeconds: number;
}

/**
 * The hybrid engine (docs/hybrid.md): a Standard parent runs LoadRun, then starts Express segments with
 * `startExecution.sync:2`. A segment is the standard loop's own states (lib/loop-states.ts: CallModel, Route,
 * CallTool...) whose exits hand the loop state back with `$.exit` set; the parent finalizes, waits (Pause,
 * AwaitApproval: task tokens stay in the parent, Express has none) or starts the next segment. The parent starts a
 * published version of the segment machine, so each parent version pins its segment definition too.
 */
export class HybridWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly segmentMachine: sfn.StateMachine;
  readonly segmentVersion: sfn.CfnStateMachineVersion;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: HybridWorkflowProps) {
    super(scope, id);
    const segment = new Construct(this, 'Segment');
    const inner = new StepKit(segment, props);
    const exit = (value: (typeof SEGMENT_EXITS)[number]) =>
      new sfn.Pass(segment, `Exit${value[0]}${value.slice(1).toLowerCase()}`, { result: sfn.Result.fromString(value), resultPath: '$.exit' });
    const route = loopStates(
      inner,
      {
        finish: exit('FINISH'),
        surrender: exit('SURRENDER'),
        degrade: exit('DEGRADE'),
        refused: exit('REFUSED'),
        stopped: exit('STOPPED'),
        pause: exit('PAUSE'),
        approval: props.approval ? exit('APPROVAL') : undefined,
        // The segment's budget (its steps, its time), checked at the tool-call boundary: the next segment starts with the
        // pending calls.
        beforeTools: {
          condition: sfn.Condition.or(
            sfn.Condition.numberGreaterThanEqualsJsonPath('$.step', '$.segmentEnd'),
            sfn.Condition.and(sfn.Condition.isPresent('$.segmentDue'), sfn.Condition.booleanEquals('$.segmentDue', true)),
          ),
          next: exit('NEXT'),
        },
      },
      { segment: { startedAt: sfn.JsonPath.stringAt('$$.Execution.StartTime'), seconds: props.segmentSeconds } },
    );
    // The parent sends {state, segment: {segmentEnd, segmentDue}}: merged into the loop state, the segment's budget winning.
    const begin = new sfn.Pass(segment, 'BeginSegment', {
      parameters: { 'merged.$': 'States.JsonMerge($.state, $.segment, false)' },
      outputPath: '$.merged',
    });
    begin.next(route);
    const segmentLogs = new logs.LogGroup(segment, 'Logs', { logGroupName: vendedLogGroupName(this, '-segment'), retention: logs.RetentionDays.ONE_MONTH });
    this.segmentMachine = new sfn.StateMachine(segment, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(begin),
      stateMachineType: sfn.StateMachineType.EXPRESS,
      tracingEnabled: true,
      // Express logs are billed by the GB ingested: errors only, without the execution data (the trace is in the table).
      logs: { destination: segmentLogs, level: sfn.LogLevel.ERROR, includeExecutionData: false },
      timeout: Duration.seconds(SEGMENT_TIMEOUT_SECONDS),
      comment: 'Hybrid engine: one segment of the agent loop (model and tool steps), run by the Standard parent',
    });
    const cfnSegment = this.segmentMachine.node.defaultChild as sfn.CfnStateMachine;
    this.segmentVersion = new sfn.CfnStateMachineVersion(segment, 'Version', {
      stateMachineArn: this.segmentMachine.stateMachineArn,
      stateMachineRevisionId: cfnSegment.attrStateMachineRevisionId,
    });
    // Kept when replaced: a parent version in flight still starts the segment version it names.
    this.segmentVersion.applyRemovalPolicy(RemovalPolicy.RETAIN);
    this.node.addValidation({ validate: () => segmentTimeProblems(props) });
    this.node.addValidation({ validate: () => expressProblems(Stack.of(this).resolve(cfnSegment.definitionString), this.segmentMachine.node.path) });

    // The parent.
    const kit = new StepKit(this, props);
    const { finish, surrender, degrade, refused, stopped } = kit.endings();
    const runSegment = new sfn.CustomState(this, 'RunSegment', {
      stateJson: {
        Type: 'Task',
        Comment: 'an Express segment: model and tool steps until the run ends, waits, or the segment budget is spent',
        Resource: `arn:${Stack.of(this).partition}:states:::states:startExecution.sync:2`,
        Parameters: {
          StateMachineArn: this.segmentVersion.ref,
          // A new segment's budget: segmentSteps more steps, and its own clock (segmentDue is set again by its model steps
          // only: every segment makes at least one step).
          Input: { 'state.$': '$', segment: { 'segmentEnd.$': `States.MathAdd($.step, ${props.segmentSteps})`, segmentDue: false } },
        },
        // .sync:2 returns the child's DescribeExecution with its output as JSON: the loop state the segment ended with.
        OutputPath: '$.Output',
        TimeoutSeconds: EXPRESS_MAX_SECONDS + 60,
      },
    });
    // A segment that failed or timed out runs once more from its input (the recorded step results make it safe:
    // docs/hybrid.md). Failed again, the run resumes from its checkpoint (LoadRun) in a new segment, as long as the
    // failed segments moved the checkpoint on (at most maxSteps times); otherwise it degrades.
    runSegment.addRetry({ errors: ['States.TaskFailed'], maxAttempts: 1, interval: Duration.seconds(1), jitterStrategy: sfn.JitterType.FULL });
    const resume = kit.invoke('ResumeFromCheckpoint', props.loadRun, { runId: sfn.JsonPath.stringAt('$.runId') }, props.timeouts.bookkeeping, {
      resultSelector: { 'state.$': '$.Payload' },
      resultPath: '$.checkpoint',
      outputPath: undefined,
    });
    resume.addRetry(kit.serviceRetry);
    resume.addCatch(degrade, { errors: ['States.ALL'], resultPath: '$.error' });
    runSegment.addCatch(resume, { errors: ['States.TaskFailed'], resultPath: '$.error' });
    runSegment.addCatch(degrade, { errors: ['States.ALL'], resultPath: '$.error' });
    resume.next(
      new sfn.Choice(this, 'CheckpointMoved', { comment: 'resume from the checkpoint if the failed segments moved it on; else the run degrades' })
        .when(sfn.Condition.stringEquals('$.checkpoint.state.outcome', 'stopped'), stopped)
        .when(
          sfn.Condition.numberGreaterThanJsonPath('$.checkpoint.state.step', '$.step'),
          new sfn.Pass(this, 'FromCheckpoint', { inputPath: '$.checkpoint.state' }).next(runSegment),
        )
        .otherwise(degrade),
    );
    const pause = kit.pauseTask(stopped, kit.stopBecause('PauseExpired', 'PAUSE_EXPIRED', surrender));
    pause.next(runSegment);
    const approval = kit.approvalTask(() => kit.stopBecause('ApprovalExpired', 'APPROVAL_EXPIRED', surrender));
    approval?.next(runSegment);
    const exitIs = (value: string) => sfn.Condition.stringEquals('$.exit', value);
    const afterSegment = new sfn.Choice(this, 'AfterSegment', { comment: 'how the segment ended: an ending, a wait, or the next segment' })
      .when(exitIs('STOPPED'), stopped)
      .when(exitIs('FINISH'), finish)
      .when(exitIs('SURRENDER'), surrender)
      .when(exitIs('DEGRADE'), degrade)
      .when(exitIs('REFUSED'), refused)
      // The segment checks the step budget every step; checked again here, so the parent alone holds it.
      .when(sfn.Condition.numberGreaterThanEqualsJsonPath('$.step', '$.maxSteps'), kit.stopBecause('StepBudgetExhausted', 'STEP_BUDGET', surrender))
      .when(exitIs('PAUSE'), pause);
    if (approval) afterSegment.when(exitIs('APPROVAL'), approval);
    afterSegment.otherwise(runSegment);
    runSegment.next(afterSegment);

    const loadRun = kit.invoke('LoadRun', props.loadRun, sfn.TaskInput.fromJsonPathAt('$'), props.timeouts.bookkeeping);
    loadRun.addRetry(kit.serviceRetry);
    loadRun.next(runSegment);

    validateWaits(this, props.executionTimeoutSeconds, props.approval?.timeoutSeconds);

    this.logGroup = new logs.LogGroup(this, 'Logs', { logGroupName: vendedLogGroupName(this, ''), retention: logs.RetentionDays.ONE_MONTH });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(loadRun),
      stateMachineType: sfn.StateMachineType.STANDARD,
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      timeout: Duration.seconds(props.executionTimeoutSeconds),
      comment: 'Hardened LLM agent loop, hybrid: Standard parent (checkpoints, waits, endings), Express segments (model and tool steps)',
    });
    // startExecution.sync:2 (Step Functions IAM page): start the segment machine (its versions are authorized against
    // it), describe and stop its executions, and the managed rule through which Step Functions learns a child ended.
    const { region, account, partition } = Stack.of(this);
    const segmentName = Stack.of(this).splitArn(this.segmentMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName;
    // On the unqualified machine, not the version this parent names: a parent version still in flight after a deploy
    // (the role is replaced with it) must still start the segment version it pins.
    this.stateMachine.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [this.segmentMachine.stateMachineArn] }));
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:DescribeExecution', 'states:StopExecution'],
        resources: [`arn:${partition}:states:${region}:${account}:execution:${segmentName}:*`, `arn:${partition}:states:${region}:${account}:express:${segmentName}:*`],
      }),
    );
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [`arn:${partition}:events:${region}:${account}:rule/${SYNC_EVENTS_RULE}`],
      }),
    );
  }
}

/**
 * Why `hybrid.segmentSeconds` cannot be kept: a segment checks its time after each model call, so the time, then one
 * step's tool Task and one more model Task must fit in the segment's timeout (under Express's 5 minutes).
 */
export function segmentTimeProblems(p: Pick<HybridWorkflowProps, 'segmentSeconds' | 'timeouts'>): string[] {
  const step = p.timeouts.model + p.timeouts.tool;
  if (p.segmentSeconds + step <= SEGMENT_TIMEOUT_SECONDS) return [];
  return [
    `hybrid.segmentSeconds (${p.segmentSeconds} s) plus one step's Task timeouts (model ${p.timeouts.model} s + tool ${p.timeouts.tool} s) must be at most ${SEGMENT_TIMEOUT_SECONDS} s (an Express segment runs under ${EXPRESS_MAX_SECONDS} s): set hybrid.segmentSeconds to at most ${Math.max(0, SEGMENT_TIMEOUT_SECONDS - step)}, or lower the model's or the tools' timeoutMs`,
  ];
}

/**
 * Under /aws/vendedlogs/states/, as the standard machine's (lib/workflow.ts): the stack's name and id, then `suffix`.
 */
function vendedLogGroupName(scope: Construct, suffix: string): string {
  const stack = Stack.of(scope);
  return Fn.join('', ['/aws/vendedlogs/states/', stack.stackName, '-', Fn.select(2, Fn.split('/', stack.stackId)), suffix]);
}

/**
 * Why a definition cannot run as an Express workflow: Express has no `.waitForTaskToken` (and no `.sync`) service
 * integration. `definition` is the machine's DefinitionString as synthesized (a string, or an Fn::Join of parts).
 */
export function expressProblems(definition: unknown, path: string): string[] {
  const text = flatten(definition);
  const problems: string[] = [];
  for (const m of text.matchAll(/"([^"]+)":\{"[^{}]*?"Resource":"[^"]*\.(waitForTaskToken|sync(?::2)?)"/g)) {
    problems.push(`${path}: state "${m[1]}" uses .${m[2]}, which an Express workflow cannot run; waits belong in the Standard parent (docs/hybrid.md)`);
  }
  if (problems.length === 0 && /\.waitForTaskToken"|\.sync(:2)?"/.test(text))
    problems.push(`${path}: a state uses .waitForTaskToken or .sync, which an Express workflow cannot run; waits belong in the Standard parent (docs/hybrid.md)`);
  return problems;
}

function flatten(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(flatten).join('');
  const o = v as Record<string, unknown> | null;
  if (o && 'Fn::Join' in o) {
    const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
    return parts.map(flatten).join(sep);
  }
  return o && typeof o === 'object' ? '' : String(v);
}
