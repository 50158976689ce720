import { type CfnResource, Stack } from 'aws-cdk-lib';
import { CfnAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import { CfnTable } from 'aws-cdk-lib/aws-dynamodb';
import { CfnAlias, CfnFunction, CfnVersion } from 'aws-cdk-lib/aws-lambda';
import { CfnStateMachine, CfnStateMachineAlias, CfnStateMachineVersion } from 'aws-cdk-lib/aws-stepfunctions';
import { NagMessageLevel, NagPack, type NagPackProps, NagRuleCompliance, type NagRuleResult } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { RETRYABLE_ERRORS } from '../../lambdas/core/errors';
import { CONFIG_ENV, configJsonOf, parseConfig } from '../config';
import { dependenciesOf } from '../dependencies';
import { LAMBDA_SERVICE_ERRORS } from '../workflow';

/**
 * Agent readiness: the production checklist of an LLM agent, checked on the synthesized stack so `cdk synth` fails
 * when it does not hold. Rules: budgets, Task timeouts and the timeout chain, transient-only retries with jitter and
 * at most 5 attempts, a Catch into a degradation path on every external call, the step budget checked in the
 * definition, a breaker and a fallback for every dependency, PITR on the checkpoint tables, logs and traces, and
 * safe deploys: a published version behind an alias, whose definition invokes Lambda versions (never $LATEST); and,
 * as a warning, alarms that notify someone.
 */
/** The id to acknowledge the alarms-notify-nobody finding by (docs/operations.md). */
export const ALARMS_NOTIFY_RULE = 'AgentReadiness::AgentReadiness-AlarmsNotify';

export class AgentReadinessChecks extends NagPack {
  readonly name = 'AgentReadiness';

  constructor(scope?: IConstruct, props?: NagPackProps) {
    super(scope, props);
    this.packName = 'AgentReadiness';
  }

  protected checkResource(node: CfnResource): void {
    const rule = (ruleSuffixOverride: string, info: string, explanation: string, check: (n: CfnResource) => NagRuleResult, level = NagMessageLevel.ERROR) =>
      this.applyRule({ ruleSuffixOverride, info, explanation, level, node, rule: check });

    if (node instanceof CfnAlarm) {
      // Reported once per stack (on its first alarm), not once per alarm: the fix is one setting for all of them.
      const alarms = Stack.of(node)
        .node.findAll()
        .filter((c): c is CfnAlarm => c instanceof CfnAlarm);
      rule(
        'AlarmsNotify',
        "The stack's CloudWatch alarms notify nobody: set observability.monitoring.alarmEmail and/or alarmTopicArn in the config, or acknowledge it there with observability.monitoring.alarmsNotifyNobody: '<why that is fine>'.",
        'An alarm nobody receives tells nobody: every alarm needs an action (docs/operations.md, "Alarms").',
        (n) => {
          if (alarms[0] !== n) return NagRuleCompliance.NOT_APPLICABLE;
          const silent = alarms.filter((a) => !(Stack.of(a).resolve(a.alarmActions) as unknown[] | undefined)?.length);
          return silent.length === 0 ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
        },
      );
    }

    if (node instanceof CfnFunction) {
      rule('Budgets', 'An agent handler has no step or token budget.', 'Every agent needs a hard step budget and a per-request token budget.', (n) => {
        const config = agentConfigOf(n as CfnFunction);
        if (config === undefined) return NagRuleCompliance.NOT_APPLICABLE;
        const budgets = (config as { budgets?: { maxSteps?: unknown; maxTokens?: unknown } }).budgets;
        return typeof budgets?.maxSteps === 'number' && budgets.maxSteps > 0 && typeof budgets.maxTokens === 'number' && budgets.maxTokens > 0
          ? NagRuleCompliance.COMPLIANT
          : NagRuleCompliance.NON_COMPLIANT;
      });
      rule(
        'BreakerAndFallback',
        'A dependency has no circuit breaker or no documented fallback.',
        'Every external dependency needs a breaker and a degradation path (docs/degradation.md).',
        (n) => {
          const raw = agentConfigOf(n as CfnFunction);
          if (raw === undefined) return NagRuleCompliance.NOT_APPLICABLE;
          try {
            const deps = dependenciesOf(parseConfig(raw));
            return deps.every((d) => d.breaker.enabled && d.fallback) ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
          } catch {
            return NagRuleCompliance.NON_COMPLIANT;
          }
        },
      );
    }

    if (node instanceof CfnTable) {
      rule('CheckpointPITR', 'A checkpoint table has no point-in-time recovery.', 'Runs are rebuilt from the table alone: it needs PITR.', (n) => {
        const spec = Stack.of(n).resolve((n as CfnTable).pointInTimeRecoverySpecification) as { pointInTimeRecoveryEnabled?: boolean } | undefined;
        return spec?.pointInTimeRecoveryEnabled === true ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
      });
    }

    if (node instanceof CfnStateMachine) {
      const definition = () => definitionOf(node);
      rule('LogsAndTraces', 'The state machine does not log or trace.', 'A run must be explainable after the fact: execution logs and X-Ray traces.', (n) => {
        const sm = n as CfnStateMachine;
        const logging = Stack.of(n).resolve(sm.loggingConfiguration) as { level?: string; destinations?: unknown[] } | undefined;
        const tracing = Stack.of(n).resolve(sm.tracingConfiguration) as { enabled?: boolean } | undefined;
        return logging?.destinations?.length && logging.level && logging.level !== 'OFF' && tracing?.enabled ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
      });
      rule(
        'TaskTimeouts',
        'A Task has no TimeoutSeconds, or the timeout chain (Lambda < Task) is broken.',
        'Every call is bounded: client timeout < Lambda timeout < Task TimeoutSeconds.',
        (n) => {
          const def = definition();
          if (!def) return NagRuleCompliance.NON_COMPLIANT;
          for (const state of tasksOf(def)) {
            if (typeof state.TimeoutSeconds !== 'number') return NagRuleCompliance.NON_COMPLIANT;
            const fn = lambdaOf(n, state);
            if (fn && typeof fn.timeout === 'number' && !(state.TimeoutSeconds > fn.timeout)) return NagRuleCompliance.NON_COMPLIANT;
          }
          return NagRuleCompliance.COMPLIANT;
        },
      );
      rule(
        'TransientRetryOnly',
        'A retrier retries non-transient errors, has no full jitter, or allows more than 5 attempts.',
        'Retry transient errors only (never a 4xx or a refusal), with backoff and full jitter, 3 to 5 attempts.',
        () => {
          const def = definition();
          if (!def) return NagRuleCompliance.NON_COMPLIANT;
          const allowed = new Set<string>([...RETRYABLE_ERRORS, ...LAMBDA_SERVICE_ERRORS]);
          for (const state of tasksOf(def)) {
            // A nested execution (startExecution.sync) fails as States.TaskFailed, whatever its child's error: a child whose
            // steps are idempotent (the hybrid engine's segment) may run again.
            const nestedSync = /:states:::states:startExecution\.sync/.test(String(state.Resource ?? ''));
            for (const r of (state.Retry ?? []) as { ErrorEquals: string[]; JitterStrategy?: string; MaxAttempts?: number }[]) {
              if (!r.ErrorEquals.every((e) => allowed.has(e) || (nestedSync && e === 'States.TaskFailed')) || r.JitterStrategy !== 'FULL' || (r.MaxAttempts ?? 3) > 4)
                return NagRuleCompliance.NON_COMPLIANT;
            }
          }
          return NagRuleCompliance.COMPLIANT;
        },
      );
      rule('DegradationCatch', 'A model or tool call has no Catch into a degradation path.', 'When a dependency fails after its retries, the run degrades; it never dies.', (n) => {
        const def = definition();
        if (!def) return NagRuleCompliance.NON_COMPLIANT;
        for (const state of tasksOf(def)) {
          const handler = lambdaOf(n, state)?.handler;
          if (handler !== 'call-model' && handler !== 'call-tool') continue;
          // A task that records a failure as the tool's result is itself the degradation path, not an external call.
          if (state.Parameters?.Payload && 'failure.$' in state.Parameters.Payload) continue;
          const catches = (state.Catch ?? []) as { ErrorEquals: string[] }[];
          if (!catches.some((c) => c.ErrorEquals.includes('States.ALL'))) return NagRuleCompliance.NON_COMPLIANT;
        }
        return NagRuleCompliance.COMPLIANT;
      });
      rule(
        'VersionAndAlias',
        'The state machine has no published version behind an alias.',
        'Runs last days: every deploy publishes a version and runs start on an alias, so a run finishes on the definition it started with and a rollback is one alias update.',
        (n) => {
          const stack = Stack.of(n);
          const ref = (v: unknown) => JSON.stringify(stack.resolve(v));
          const machine = JSON.stringify({ Ref: stack.getLogicalId(n as CfnStateMachine) });
          const versions = stack.node
            .findAll()
            .filter((c): c is CfnStateMachineVersion => c instanceof CfnStateMachineVersion && ref(c.stateMachineArn) === machine)
            .map((c) => JSON.stringify({ Ref: stack.getLogicalId(c) }));
          const aliased = stack.node.findAll().some((c) => {
            if (!(c instanceof CfnStateMachineAlias)) return false;
            const routing = (stack.resolve(c.routingConfiguration) ?? []) as { stateMachineVersionArn?: unknown }[];
            const preference = stack.resolve(c.deploymentPreference) as { stateMachineVersionArn?: unknown } | undefined;
            return [...routing.map((r) => r.stateMachineVersionArn), preference?.stateMachineVersionArn].some((arn) => arn !== undefined && versions.includes(JSON.stringify(arn)));
          });
          // A nested machine (the hybrid engine's Express segment) is started by version from its parent's definition: the
          // parent's version pins it, and runs never start on it directly.
          const nested = stack.node
            .findAll()
            .some((c) => c instanceof CfnStateMachine && c !== n && versions.some((v) => JSON.stringify(stack.resolve(c.definitionString) ?? '').includes(v)));
          return versions.length > 0 && (aliased || nested) ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
        },
      );
      rule(
        'PinnedLambdaVersions',
        'A Task invokes a Lambda function unqualified ($LATEST).',
        'Each state machine version invokes published Lambda versions, so a deploy never swaps the code under a run in flight.',
        (n) => {
          const def = definition();
          if (!def) return NagRuleCompliance.NON_COMPLIANT;
          for (const state of tasksOf(def)) {
            if (!String(state.Resource ?? '').includes(':lambda:invoke')) continue;
            if (lambdaOf(n, state)?.pinned !== true) return NagRuleCompliance.NON_COMPLIANT;
          }
          return NagRuleCompliance.COMPLIANT;
        },
      );
      rule(
        'StepBudgetInDefinition',
        'The definition does not check the loop counter against the step budget.',
        'The step budget is a loop counter in the state machine, checked every iteration.',
        () => {
          const def = definition();
          const choices = def ? allStates(def).filter((s) => s.Type === 'Choice') : [];
          const json = JSON.stringify(choices);
          return json.includes('"Variable":"$.step"') && json.includes('"NumericGreaterThanEqualsPath":"$.maxSteps"')
            ? NagRuleCompliance.COMPLIANT
            : NagRuleCompliance.NON_COMPLIANT;
        },
      );
    }
  }
}

type State = Record<string, any>;

function agentConfigOf(fn: CfnFunction): unknown {
  const env = Stack.of(fn).resolve(fn.environment) as { variables?: Record<string, unknown> } | undefined;
  const json = env?.variables?.[CONFIG_ENV];
  if (typeof json !== 'string') return undefined;
  try {
    return JSON.parse(configJsonOf(json));
  } catch {
    return {};
  }
}

/** The definition with tokens flattened: a Ref or GetAtt becomes the logical id it names. */
function definitionOf(sm: CfnStateMachine): State | undefined {
  const flatten = (v: unknown): string => {
    if (typeof v === 'string') return v;
    if (Array.isArray(v)) return v.map(flatten).join('');
    const o = v as Record<string, unknown>;
    if (o && 'Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(flatten).join(sep);
    }
    if (o && 'Ref' in o) return String(o.Ref);
    if (o && 'Fn::GetAtt' in o) return String((o['Fn::GetAtt'] as string[])[0]);
    return JSON.stringify(v);
  };
  try {
    const raw = Stack.of(sm).resolve(sm.definitionString) ?? Stack.of(sm).resolve(sm.definition);
    return typeof raw === 'object' && raw && !('Fn::Join' in raw) ? (raw as State) : (JSON.parse(flatten(raw)) as State);
  } catch {
    return undefined;
  }
}

function allStates(def: State): State[] {
  const out: State[] = [];
  for (const s of Object.values((def.States ?? {}) as Record<string, State>)) {
    out.push(s);
    const nested = s.ItemProcessor ?? s.Iterator;
    if (nested) out.push(...allStates(nested));
  }
  return out;
}

const tasksOf = (def: State) => allStates(def).filter((s) => s.Type === 'Task');

/**
 * The Lambda a Task invokes (by the logical id its FunctionName names: a function, or a version or alias of one),
 * with its timeout, handler name, and whether it is pinned (a version or an alias, not $LATEST).
 */
function lambdaOf(scope: CfnResource, state: State): { timeout?: number; handler?: string; pinned: boolean } | undefined {
  const stack = Stack.of(scope);
  let name = String(state.Parameters?.FunctionName ?? '');
  let pinned = false;
  for (const c of stack.node.findAll()) {
    // A function's currentVersion is renamed at synth (a hash of its code and configuration): its Ref has the name.
    if ((c instanceof CfnVersion || c instanceof CfnAlias) && (stack.resolve(c.ref) as { Ref?: string }).Ref === name) {
      const fn = stack.resolve(c.functionName) as { Ref?: string } | string;
      name = typeof fn === 'string' ? fn : String(fn.Ref);
      pinned = true;
      break;
    }
  }
  for (const c of stack.node.findAll()) {
    if (c instanceof CfnFunction && stack.getLogicalId(c) === name) {
      const env = stack.resolve(c.environment) as { variables?: Record<string, string> } | undefined;
      return { timeout: c.timeout, handler: env?.variables?.HANDLER_NAME, pinned };
    }
  }
  return undefined;
}
