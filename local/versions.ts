import { createHash } from 'node:crypto';
import type { StateMachine } from 'aws-local-stepfunctions';
import type { ExpressMachine } from './express';
import type { Handler } from './lambda-invoker';
import { SfnError } from './sfn-error';
import type { LocalAliasSpec, LocalFunction } from './template';

/**
 * What an execution runs on, fixed when it starts: the definition and the handlers of the functions (and Lambda
 * versions) it names, each with the configuration of the template it came from.
 */
export interface Revision {
  /** The revision id (a hash of the definition, as Step Functions gives each revision an id). */
  id: string;
  definition: Record<string, unknown>;
  machine: StateMachine;
  functions: Map<string, LocalFunction>;
  handlers: Map<string, Handler>;
  /** The Express machines its `.sync` tasks start (the hybrid engine's segment), by the ARN the definition names. */
  children?: Map<string, ExpressMachine>;
}

export interface PublishedVersion {
  version: number;
  arn: string;
  revision: Revision;
  description?: string;
  createdAt: Date;
}

export interface RoutingEntry {
  stateMachineVersionArn: string;
  weight: number;
}

export interface LocalAlias {
  name: string;
  arn: string;
  description?: string;
  routing: RoutingEntry[];
  createdAt: Date;
  updatedAt: Date;
}

/** Where StartExecution on an ARN lands: the revision, and the version and alias it was resolved through. */
export interface Resolved {
  revision: Revision;
  stateMachineVersionArn?: string;
  stateMachineAliasArn?: string;
}

export const revisionId = (definition: Record<string, unknown>) => createHash('sha256').update(JSON.stringify(definition)).digest('hex').slice(0, 32);

/**
 * The state machine's revisions, versions and aliases, as Step Functions keeps them: the unqualified ARN runs the
 * latest revision; a version ARN runs that version's revision, forever; an alias ARN picks one of its (one or two)
 * versions by weight, once, at StartExecution. An execution keeps what it started on whatever is deployed after.
 */
export class VersionRegistry {
  latest: Revision;
  readonly versions: PublishedVersion[] = [];
  readonly aliases = new Map<string, LocalAlias>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly stateMachineArn: string,
    initial: Revision,
    private readonly random: () => number = Math.random,
  ) {
    this.latest = initial;
  }

  /** PublishStateMachineVersion: the latest revision becomes a version (the newest one again if already published). */
  publish(description?: string, expectedRevisionId?: string): PublishedVersion {
    if (expectedRevisionId && expectedRevisionId !== this.latest.id) {
      throw new SfnError('ConflictException', `the latest revision is ${this.latest.id}, not ${expectedRevisionId}`);
    }
    const newest = this.versions.at(-1);
    if (newest?.revision.id === this.latest.id) return newest;
    const version = (newest?.version ?? 0) + 1;
    const published = { version, arn: `${this.stateMachineArn}:${version}`, revision: this.latest, description, createdAt: new Date() };
    this.versions.push(published);
    return published;
  }

  version(arn: string): PublishedVersion {
    const found = this.versions.find((v) => v.arn === arn);
    if (!found) throw new SfnError('ResourceNotFound', `state machine version ${arn} does not exist`);
    return found;
  }

  alias(arn: string): LocalAlias {
    const found = this.aliases.get(arn);
    if (!found) throw new SfnError('ResourceNotFound', `state machine alias ${arn} does not exist`);
    return found;
  }

  /** UpdateStateMachineAlias: one or two versions of this machine, weights summing to 100. */
  updateAlias(arn: string, update: { routing?: RoutingEntry[]; description?: string }): LocalAlias {
    const alias = this.alias(arn);
    if (update.routing) {
      checkRouting(update.routing);
      for (const r of update.routing) this.version(r.stateMachineVersionArn);
      alias.routing = update.routing.map((r) => ({ stateMachineVersionArn: r.stateMachineVersionArn, weight: r.weight }));
    }
    if (update.description !== undefined) alias.description = update.description;
    alias.updatedAt = new Date();
    return alias;
  }

  /**
   * What CloudFormation does with the template's alias on a deploy: create it, or move it to the version just
   * published — at once, or as a canary (`percent` of new executions on the new version for `minutes`, then all).
   * An alias already on that version is left as it is (the resource did not change), a rollback included.
   */
  deployAlias(spec: LocalAliasSpec, version: PublishedVersion): LocalAlias {
    const now = new Date();
    const existing = this.aliases.get(spec.arn);
    if (!existing) {
      const alias = { name: spec.name, arn: spec.arn, routing: [{ stateMachineVersionArn: version.arn, weight: 100 }], createdAt: now, updatedAt: now };
      this.aliases.set(spec.arn, alias);
      return alias;
    }
    const current = main(existing.routing);
    if (current === version.arn && existing.routing.length === 1) return existing;
    if (!spec.canary || !current || current === version.arn) return this.updateAlias(spec.arn, { routing: [{ stateMachineVersionArn: version.arn, weight: 100 }] });
    const canary = [
      { stateMachineVersionArn: current, weight: 100 - spec.canary.percent },
      { stateMachineVersionArn: version.arn, weight: spec.canary.percent },
    ];
    this.updateAlias(spec.arn, { routing: canary });
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      // Shift the rest, unless someone moved the alias meanwhile (a rollback).
      const alias = this.aliases.get(spec.arn);
      if (alias && JSON.stringify(alias.routing) === JSON.stringify(canary)) this.updateAlias(spec.arn, { routing: [{ stateMachineVersionArn: version.arn, weight: 100 }] });
    }, spec.canary.minutes * 60_000);
    timer.unref();
    this.timers.add(timer);
    return existing;
  }

  /** StartExecution's stateMachineArn → what the execution runs on. */
  resolve(arn: string): Resolved {
    if (arn === this.stateMachineArn) return { revision: this.latest };
    if (this.aliases.has(arn)) {
      const alias = this.alias(arn);
      const pick = this.random() * 100;
      let sum = 0;
      const entry =
        alias.routing.find((r) => {
          sum += r.weight;
          return pick < sum;
        }) ?? alias.routing.at(-1);
      if (!entry) throw new SfnError('ResourceNotFound', `alias ${arn} routes nowhere`);
      return { revision: this.version(entry.stateMachineVersionArn).revision, stateMachineVersionArn: entry.stateMachineVersionArn, stateMachineAliasArn: arn };
    }
    if (arn.startsWith(`${this.stateMachineArn}:`)) return { revision: this.version(arn).revision, stateMachineVersionArn: arn };
    throw new SfnError('StateMachineDoesNotExist', `state machine ${arn} does not exist; this endpoint serves ${this.stateMachineArn} (and its versions and aliases)`);
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

/** The version that takes most of an alias's traffic (the one before the canary's during a canary). */
export function main(routing: RoutingEntry[]): string | undefined {
  return [...routing].sort((a, b) => b.weight - a.weight)[0]?.stateMachineVersionArn;
}

function checkRouting(routing: RoutingEntry[]): void {
  const ok =
    routing.length >= 1 &&
    routing.length <= 2 &&
    routing.every((r) => Number.isInteger(r.weight) && r.weight >= 0 && r.weight <= 100) &&
    routing.reduce((s, r) => s + r.weight, 0) === 100 &&
    new Set(routing.map((r) => r.stateMachineVersionArn)).size === routing.length;
  if (!ok) throw new SfnError('ValidationException', 'routingConfiguration: one or two distinct versions of this state machine, integer weights summing to 100');
}
