import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { servedRoutes } from '../../lambdas/api/routes';
import { TRACE_EVENT_TYPES } from '../../lambdas/core/trace';
import { RUN_STATUSES, STOP_REASONS } from '../../lambdas/core/types';
import { parseConfig } from '../../lib/config';
import type { CfnTemplate } from '../../local/template';
import { templateFor } from '../helpers/engine';
import { sourceFiles } from '../helpers/imports';

/**
 * docs/api.md is the public contract: a route the template deploys or the handler serves, a status, a stop reason,
 * a trace kind or an error code the code writes, and not on that page, fails here.
 */
const ROOT = resolve(__dirname, '..', '..');
const doc = readFileSync(join(ROOT, 'docs', 'api.md'), 'utf8');

/** The body of the `## <title>` section (up to the next `## `). */
function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`docs/api.md has no "## ${title}" section`);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
}

/** The first cells of a section's table rows that hold one code span: `| \`X\` | …`. */
function firstCells(text: string): string[] {
  return [...text.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1] as string);
}

type Ref = { Ref: string } | { 'Fn::GetAtt': [string, string] };

/** Every `METHOD /path` of the REST API in a template (CORS preflights, OPTIONS, left out). */
function templateRoutes(template: CfnTemplate): string[] {
  const resources = Object.entries(template.Resources);
  const parts = new Map(resources.filter(([, r]) => r.Type === 'AWS::ApiGateway::Resource').map(([id, r]) => [id, r.Properties as { ParentId: Ref; PathPart: string }]));
  const pathOf = (ref: Ref, depth = 0): string => {
    if (depth > 20) throw new Error('API resources nest deeper than 20');
    if (!('Ref' in ref)) return ''; // the API's root resource
    const part = parts.get(ref.Ref);
    if (!part) throw new Error(`no AWS::ApiGateway::Resource ${ref.Ref}`);
    return `${pathOf(part.ParentId, depth + 1)}/${part.PathPart}`;
  };
  return resources
    .filter(([, r]) => r.Type === 'AWS::ApiGateway::Method')
    .map(([, r]) => r.Properties as { HttpMethod: string; ResourceId: Ref })
    .filter((m) => m.HttpMethod !== 'OPTIONS')
    .map((m) => `${m.HttpMethod} ${pathOf(m.ResourceId) || '/'}`);
}

describe('docs/api.md', () => {
  const documented = firstCells(section('Routes'));

  it('lists every route of the synthesized REST API', () => {
    const deployed = templateRoutes(templateFor(parseConfig({})));
    expect(deployed).toEqual(expect.arrayContaining(['GET /', 'POST /runs', 'GET /runs/{id}/trace', 'POST /admin/stop']));
    expect(deployed.filter((r) => !documented.includes(r))).toEqual([]);
  });

  it('lists every route the API handler serves, and no route it does not serve', () => {
    const API_ROUTES = [...new Set([...servedRoutes('cognito'), ...servedRoutes('apiKeys'), ...servedRoutes('both')])];
    expect(API_ROUTES).toEqual(expect.arrayContaining(['GET /config', 'POST /runs/{id}/approvals/{toolCallId}', 'GET /admin/reads']));
    expect(API_ROUTES.filter((r: string) => !documented.includes(r))).toEqual([]);
    expect(documented.filter((r) => !API_ROUTES.includes(r))).toEqual([]);
  });

  it('names every status and every stop reason', () => {
    expect(firstCells(section('The run'))).toEqual(expect.arrayContaining([...RUN_STATUSES]));
    expect(firstCells(section('The run'))).toEqual(expect.arrayContaining([...STOP_REASONS]));
  });

  it('names every trace kind', () => {
    expect(firstCells(section('Trace events')).sort()).toEqual([...TRACE_EVENT_TYPES].sort());
  });

  it('names every error code the API and the local server answer with', () => {
    const codes = new Set<string>();
    for (const file of [...sourceFiles(join(ROOT, 'lambdas')), ...sourceFiles(join(ROOT, 'local'))]) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:HttpError|fail)\(\s*\d{3},\s*'([A-Z_]+)'|errorBody\('([A-Z_]+)'|\bcode: '([A-Z_]+)'/g)) codes.add((m[1] ?? m[2] ?? m[3]) as string);
    }
    expect([...codes]).toEqual(expect.arrayContaining(['NOT_FOUND', 'SPEND_LIMIT', 'INTERNAL']));
    const table = [...section('Errors').matchAll(/^\| \d{3} \| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect([...codes].filter((c) => !table.includes(c))).toEqual([]);
  });
});
