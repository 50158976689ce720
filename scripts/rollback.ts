/**
 * Points the state machine's alias (`live`) back at the previous version: new runs, and resumes from a checkpoint,
 * start there; executions in flight keep the version they started on (see docs/runbook.md "Roll back").
 *
 * Usage: npm run rollback -- --alias <StateMachineAliasArn> [--to <version number|version ARN>] [--dry-run]
 * The alias ARN is the stack output StateMachineAliasArn (or AGENT_ALIAS_ARN); the region is the ARN's. The SDK's
 * usual credentials and endpoint apply (AWS_ENDPOINT_URL_SFN for the local engine or LocalStack).
 */
import { parseArgs } from 'node:util';
import {
  DescribeStateMachineAliasCommand,
  ListStateMachineVersionsCommand,
  type RoutingConfigurationListItem,
  SFNClient,
  UpdateStateMachineAliasCommand,
} from '@aws-sdk/client-sfn';
import { printedHelp } from './usage';

export interface RollbackPlan {
  aliasArn: string;
  from: { stateMachineVersionArn: string; weight: number }[];
  to: string;
}

const versionNumber = (arn: string) => Number(arn.split(':').at(-1));

/**
 * Which version the alias goes back to: `to` when given (a number or an ARN of a published version); during a
 * canary (two versions), the older one; else the newest version older than the one the alias points at.
 */
export function planRollback(aliasArn: string, routing: { stateMachineVersionArn: string; weight: number }[], versions: string[], to?: string): RollbackPlan {
  const from = routing.map((r) => ({ stateMachineVersionArn: r.stateMachineVersionArn, weight: r.weight }));
  if (to !== undefined) {
    const wanted = /^\d+$/.test(to) ? versions.find((v) => versionNumber(v) === Number(to)) : versions.find((v) => v === to);
    if (!wanted) throw new Error(`version ${to} is not a published version of this state machine (published: ${versions.map(versionNumber).join(', ') || 'none'})`);
    return { aliasArn, from, to: wanted };
  }
  const current = from.map((r) => versionNumber(r.stateMachineVersionArn));
  if (current.length === 0) throw new Error(`alias ${aliasArn} routes to no version`);
  if (current.length === 2) {
    const older = from.find((r) => versionNumber(r.stateMachineVersionArn) === Math.min(...current));
    return { aliasArn, from, to: older?.stateMachineVersionArn as string };
  }
  const [only] = current as [number];
  const previous = versions.filter((v) => versionNumber(v) < only).sort((a, b) => versionNumber(b) - versionNumber(a))[0];
  if (!previous) throw new Error(`version ${only} is the oldest published version: there is nothing to roll back to`);
  return { aliasArn, from, to: previous };
}

/** Reads the alias and the machine's versions, then points the alias at the planned version (all of its traffic). */
export async function rollback(sfn: SFNClient, options: { aliasArn: string; to?: string; dryRun?: boolean }): Promise<RollbackPlan> {
  const alias = await sfn.send(new DescribeStateMachineAliasCommand({ stateMachineAliasArn: options.aliasArn }));
  const machineArn = options.aliasArn.slice(0, options.aliasArn.lastIndexOf(':'));
  const versions: string[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < 20; page++) {
    const out = await sfn.send(new ListStateMachineVersionsCommand({ stateMachineArn: machineArn, nextToken, maxResults: 100 }));
    versions.push(...(out.stateMachineVersions ?? []).flatMap((v) => (v.stateMachineVersionArn ? [v.stateMachineVersionArn] : [])));
    nextToken = out.nextToken;
    if (!nextToken) break;
  }
  const routing = (alias.routingConfiguration ?? []).map((r: RoutingConfigurationListItem) => ({
    stateMachineVersionArn: String(r.stateMachineVersionArn),
    weight: Number(r.weight),
  }));
  const plan = planRollback(options.aliasArn, routing, versions, options.to);
  if (!options.dryRun) {
    await sfn.send(new UpdateStateMachineAliasCommand({ stateMachineAliasArn: options.aliasArn, routingConfiguration: [{ stateMachineVersionArn: plan.to, weight: 100 }] }));
  }
  return plan;
}

export const ROLLBACK_USAGE = `Usage: npm run rollback -- --alias <StateMachineAliasArn> [--to <version number|version ARN>] [--dry-run]

Points the state machine's alias back at the previous version (or --to one): new runs and resumes start there;
executions in flight finish on the version they started on (docs/runbook.md, "Roll back").
  --alias <arn>   the stack output StateMachineAliasArn (or AGENT_ALIAS_ARN); the region is the ARN's
  --to <version>  a published version's number or ARN (default: the previous one; during a canary, the older one)
  --dry-run       say what would change, change nothing
  -h, --help      this text`;

/** The region of a state machine alias ARN (arn:<partition>:states:<region>:<account>:stateMachine:<name>:<alias>). */
export function regionOfAliasArn(arn: string): string {
  const parts = arn.split(':');
  if (parts.length !== 8 || parts[0] !== 'arn' || parts[2] !== 'states' || parts[5] !== 'stateMachine' || !parts[3] || !parts[7]) {
    throw new Error(
      `"${arn}" is not a state machine alias ARN: expected arn:<partition>:states:<region>:<account>:stateMachine:<name>:<alias> (the stack output StateMachineAliasArn)`,
    );
  }
  return parts[3];
}

async function main(argv: string[]): Promise<void> {
  if (printedHelp(ROLLBACK_USAGE, argv)) return;
  const { values } = parseArgs({ args: argv, options: { alias: { type: 'string' }, to: { type: 'string' }, 'dry-run': { type: 'boolean', default: false } } });
  const aliasArn = values.alias ?? process.env.AGENT_ALIAS_ARN;
  if (!aliasArn) throw new Error(`an alias is needed: --alias <arn> or AGENT_ALIAS_ARN\n\n${ROLLBACK_USAGE}`);
  const dryRun = values['dry-run'];
  // The alias's own region: the ARN names it, so no AWS_REGION is needed (nor can a different one misdirect the call).
  const sfn = new SFNClient({ region: regionOfAliasArn(aliasArn) });
  try {
    const plan = await rollback(sfn, { aliasArn, to: values.to, dryRun });
    const from = plan.from.map((r) => `${versionNumber(r.stateMachineVersionArn)} (${r.weight}%)`).join(' + ');
    process.stdout.write(`${dryRun ? 'would point' : 'pointed'} ${aliasArn} from version ${from} to version ${versionNumber(plan.to)} (100%)\n`);
    process.stdout.write('New runs and resumes start on it; executions in flight finish on the version they started on.\n');
  } finally {
    sfn.destroy();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  });
}
