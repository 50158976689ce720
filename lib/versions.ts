import { createHash } from 'node:crypto';
import { Lazy, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

/** The alias every run starts on (the API, resumes from a checkpoint, the CLI against a deployed stack). */
export const LIVE_ALIAS = 'live';

export interface AgentVersionsProps {
  readonly stateMachine: sfn.StateMachine;
  /**
   * Shift new runs gradually: `percent` of them go to the new version for `minutes`, then all (config
   * `deploy.canary`). Without it the alias points at the new version at once.
   */
  readonly canary?: { readonly percent: number; readonly minutes: number };
}

/**
 * Safe deploys: every deploy that changes the state machine publishes a version of it (the version resource takes
 * the machine's revision id, which changes with the definition, so CloudFormation replaces it: a new version), and
 * the alias `live` points at that version. Versions are retained when replaced: executions keep running on theirs
 * (with the Lambda versions their definition names), and `npm run rollback` can point the alias back at one.
 *
 * The canary is CloudFormation's gradual deployment of the alias (DeploymentPreference CANARY): CloudFormation knows
 * the version the alias points at before the update, so nothing has to carry the previous version's ARN into synth.
 */
export class AgentVersions extends Construct {
  readonly version: sfn.CfnStateMachineVersion;
  readonly alias: sfn.CfnStateMachineAlias;
  /** The alias ARN: what StartExecution targets. */
  readonly aliasArn: string;
  readonly versionArn: string;
  private readonly alarms: cloudwatch.IAlarm[] = [];

  constructor(scope: Construct, id: string, props: AgentVersionsProps) {
    super(scope, id);
    const machine = props.stateMachine.node.defaultChild as sfn.CfnStateMachine;
    this.version = new sfn.CfnStateMachineVersion(this, 'Version', {
      stateMachineArn: props.stateMachine.stateMachineArn,
      stateMachineRevisionId: machine.attrStateMachineRevisionId,
      // Resolved at synth, once every token of the definition (Lambda version ids included) is final.
      description: Lazy.string({ produce: () => `definition sha256:${definitionHash(machine)}` }),
    });
    // A replaced version is kept: runs in flight still execute on it, and a rollback may point the alias back at it.
    this.version.applyRemovalPolicy(RemovalPolicy.RETAIN);
    this.versionArn = this.version.ref;

    const canary = props.canary;
    this.alias = new sfn.CfnStateMachineAlias(this, 'Alias', {
      name: LIVE_ALIAS,
      description: 'Every run starts here: the version of the last deploy (or the one a rollback chose)',
      ...(canary
        ? {
            deploymentPreference: {
              type: 'CANARY',
              stateMachineVersionArn: this.versionArn,
              percentage: canary.percent,
              interval: canary.minutes,
              alarms: Lazy.list({ produce: () => this.alarms.map((a) => a.alarmName) }, { omitEmpty: true }),
            },
          }
        : { routingConfiguration: [{ stateMachineVersionArn: this.versionArn, weight: 100 }] }),
    });
    this.aliasArn = this.alias.ref;
  }

  /** Alarms CloudFormation watches during a canary: one in ALARM rolls the alias back to the previous version. */
  rollBackOn(alarms: cloudwatch.IAlarm[]): void {
    this.alarms.push(...alarms);
  }
}

/**
 * A short hash of the definition as synthesized (tokens included), shown in the version's description so a version
 * can be matched to the code it came from.
 */
function definitionHash(machine: sfn.CfnStateMachine): string {
  const stack = Stack.of(machine);
  return createHash('sha256')
    .update(JSON.stringify(stack.resolve(machine.definitionString) ?? stack.resolve(machine.definition) ?? null))
    .digest('hex')
    .slice(0, 16);
}
