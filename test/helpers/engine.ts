import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentConfigInput, parseConfig } from '../../lib/config';
import { type EngineOptions, LocalEngine } from '../../local/engine';
import { type CfnTemplate, synthTemplate } from '../../local/template';

const CACHE = join(tmpdir(), 'agent-template-cache');

/**
 * The synthesized template for a config, cached on disk by the config's hash and the source's mtime-free key
 * (jest workers and suites share it), so each distinct config is synthesized once per machine per change.
 */
export function templateFor(config: ReturnType<typeof parseConfig>): CfnTemplate {
  const key = createHash('sha256').update(JSON.stringify(config)).update(process.env.JEST_RUN_ID ?? '').digest('hex').slice(0, 24);
  const file = join(CACHE, `${key}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as CfnTemplate;
  const template = synthTemplate(config);
  mkdirSync(CACHE, { recursive: true });
  const tmp = `${file}.${process.pid}`;
  writeFileSync(tmp, JSON.stringify(template));
  renameSync(tmp, file);
  return template;
}

/** An offline engine on in-memory dynalite running the synthesized machine, retry sleeps removed. */
export async function testEngine(config: AgentConfigInput = {}, options: Partial<EngineOptions> = {}): Promise<LocalEngine> {
  const parsed = parseConfig(config);
  return LocalEngine.start({ config: parsed, template: templateFor(parsed), retryScale: 0, ...options });
}
