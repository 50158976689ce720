import { z } from 'zod';
import { AgentConfigSchema } from '../lambdas/core/config';

/** The part of a JSON Schema the zod schema produces that the reference reads. */
interface Schema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  propertyNames?: Schema;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  pattern?: string;
  format?: string;
}

/** One row of the reference: a key, what it takes, its default, what it does. */
interface Row {
  key: string;
  allowed: string;
  byDefault: string;
  description: string;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (value: unknown) => `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;

/** What a value may be, in words: the type with its range, length, pattern or choices. */
function allowedOf(s: Schema): string {
  if (s.const !== undefined) return code(JSON.stringify(s.const));
  if (s.enum) return s.enum.map((v) => code(JSON.stringify(v))).join(' or ');
  const variants = s.anyOf ?? s.oneOf;
  if (variants) return variants.map(allowedOf).join(' or ');
  const type = Array.isArray(s.type) ? s.type.join(' or ') : (s.type ?? 'any');
  const bounds: string[] = [];
  // A bare integer carries the safe-integer range: no bound worth printing.
  const bound = (n: number | undefined) => (n !== undefined && Math.abs(n) < Number.MAX_SAFE_INTEGER ? n : undefined);
  const [min, max, above, below] = [bound(s.minimum), bound(s.maximum), bound(s.exclusiveMinimum), bound(s.exclusiveMaximum)];
  if (min !== undefined) bounds.push(`≥ ${min}`);
  else if (above !== undefined) bounds.push(type === 'integer' ? `≥ ${above + 1}` : `> ${above}`);
  if (max !== undefined) bounds.push(`≤ ${max}`);
  else if (below !== undefined) bounds.push(`< ${below}`);
  if (s.minLength === 1) bounds.push('not empty');
  else if (s.minLength !== undefined && s.minLength > 1) bounds.push(`at least ${s.minLength} characters`);
  if (s.maxLength !== undefined) bounds.push(`at most ${s.maxLength} characters`);
  if (s.format === 'uri') bounds.push('a URL');
  if (s.pattern) bounds.push(`matching ${code(s.pattern)}`);
  if (s.minItems) bounds.push(`at least ${s.minItems} item${s.minItems > 1 ? 's' : ''}`);
  if (type === 'array' && s.items) bounds.push(`of ${allowedOf(s.items)}`);
  if (type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object' && !s.properties) {
    return `object: name → ${allowedOf(s.additionalProperties)}`;
  }
  return bounds.length ? `${type}, ${bounds.join(', ')}` : type;
}

/** The rows of an object's keys (and of the keys below them), in the schema's order. */
function rowsOf(s: Schema, prefix: string): Row[] {
  const required = new Set(s.required ?? []);
  return Object.entries(s.properties ?? {}).flatMap(([name, child]) => {
    const key = `${prefix}${name}`;
    const byDefault = child.default !== undefined ? code(child.default) : required.has(name) ? 'required' : 'none';
    const row: Row = { key, allowed: child.properties ? 'object' : allowedOf(child), byDefault, description: child.description ?? '' };
    const record = !child.properties && typeof child.additionalProperties === 'object' ? child.additionalProperties : undefined;
    if (child.properties) return [row, ...rowsOf(child, `${key}.`)];
    if (record?.properties) return [{ ...row, allowed: 'object: name → object' }, ...rowsOf(record, `${key}.<name>.`)];
    return [row];
  });
}

function table(rows: Row[]): string[] {
  return ['| key | allowed | default | |', '|---|---|---|---|', ...rows.map((r) => `| \`${r.key}\` | ${cell(r.allowed)} | ${cell(r.byDefault)} | ${cell(r.description)} |`)];
}

/** The kinds of a list whose items are a union tagged by `kind` (the tools). */
function kindsOf(s: Schema): Schema[] {
  return s.items?.oneOf ?? s.items?.anyOf ?? [];
}

/** The keys of the config schema below the top-level ones, with no description. */
export function undescribedKeys(): string[] {
  const schema = z.toJSONSchema(AgentConfigSchema, { io: 'input', unrepresentable: 'any' }) as Schema;
  const top = rowsOf(schema, '');
  const tools = kindsOf(schema.properties?.tools ?? {}).flatMap((kind) => rowsOf(kind, `tools[${String(kind.properties?.kind?.const)}].`).filter((r) => !r.key.endsWith('.kind')));
  return [...top, ...tools].filter((r) => !r.description).map((r) => r.key);
}

/**
 * docs/config.md: every key of `agent.config.json` with what it takes, its default and what it does, produced from
 * the one config schema (lambdas/core/config.ts) so it cannot drift (npm run docs:config; a test checks the file).
 */
export function renderConfigDoc(): string {
  const schema = z.toJSONSchema(AgentConfigSchema, { io: 'input', unrepresentable: 'any' }) as Schema;
  const out = [
    '# Configuration reference',
    '',
    '<!-- Generated from lambdas/core/config.ts by `npm run docs:config`; do not edit by hand. -->',
    '',
    '`agent.config.json` at the repository root (or the file `--config <file>` or `AGENT_CONFIG` names). Every key',
    'has a default, so a config gives only what it changes; an unknown key or a bad value is an error naming the key',
    'and what is allowed. The same schema is read by `cdk synth`, the Lambda handlers and the local engine.',
    '',
  ];
  const other: Row[] = [];
  for (const [name, section] of Object.entries(schema.properties ?? {})) {
    const rows = rowsOf({ properties: { [name]: section }, required: schema.required }, '');
    if (rows.length === 1 && name !== 'tools') {
      other.push(...rows);
      continue;
    }
    out.push(`## \`${name}\``, '');
    if (name === 'tools') {
      if (section.description) out.push(section.description, '');
      out.push(...table([{ key: name, allowed: 'array of tool entries', byDefault: code(section.default ?? []), description: '' }]), '');
      for (const kind of kindsOf(section)) {
        const tag = String(kind.properties?.kind?.const);
        out.push(`### \`"kind": "${tag}"\``, '');
        if (kind.description) out.push(kind.description, '');
        out.push(...table(rowsOf(kind, `tools[].`)), '');
      }
      continue;
    }
    out.push(...table(rows), '');
  }
  out.push('## Other keys', '', ...table(other), '');
  return `${out.join('\n').trimEnd()}\n`;
}
