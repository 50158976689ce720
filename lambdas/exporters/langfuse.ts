import type { AgentConfig } from '../core/config';
import { type IngestionEvent, toLangfuseBatch } from '../core/langfuse';
import type { RunRepository } from '../core/ports';
import { runView } from '../core/run-view';
import { classifyResponse, type FetchLike, postJson } from '../net/http-client';

export interface LangfuseTarget {
  baseUrl: string;
  publicKey: string;
  secretKey: string;
}

/** Langfuse's public ingestion API caps a request's size; batches stay well below it. */
const BATCH = 100;

/** Sends ingestion events to Langfuse (`POST {baseUrl}/api/public/ingestion`, Basic auth), in batches. */
export async function sendToLangfuse(target: LangfuseTarget, events: IngestionEvent[], deps: { fetchImpl?: FetchLike; timeoutMs?: number } = {}): Promise<void> {
  const auth = Buffer.from(`${target.publicKey}:${target.secretKey}`).toString('base64');
  for (let i = 0; i < events.length; i += BATCH) {
    const res = await postJson(
      `${target.baseUrl.replace(/\/+$/, '')}/api/public/ingestion`,
      { batch: events.slice(i, i + BATCH), metadata: { sdk: 'hardened-agent' } },
      {
        timeoutMs: deps.timeoutMs ?? 10_000,
        headers: { Authorization: `Basic ${auth}` },
        fetchImpl: deps.fetchImpl,
        label: 'langfuse',
      },
    );
    classifyResponse(res, 'langfuse');
  }
}

/** Exports one finished run (its view and its trace) to Langfuse. */
export async function exportRunToLangfuse(deps: { runs: RunRepository; target: LangfuseTarget; fetchImpl?: FetchLike }, runId: string): Promise<number> {
  const run = await deps.runs.getRun(runId);
  if (!run) return 0;
  const events = await deps.runs.listEvents(runId);
  const batch = toLangfuseBatch({ ...runView(run), userId: run.userId, input: run.input }, events);
  await sendToLangfuse(deps.target, batch, { fetchImpl: deps.fetchImpl });
  return batch.length;
}

/** The Langfuse keys of a config: from the environment locally, from a Secrets Manager JSON secret in AWS. */
export async function langfuseTarget(
  config: NonNullable<AgentConfig['observability']['langfuse']>,
  env: NodeJS.ProcessEnv,
  secrets?: (id: string) => Promise<string>,
): Promise<LangfuseTarget> {
  if (config.secret && secrets) {
    const { publicKey, secretKey } = JSON.parse(await secrets(config.secret)) as { publicKey?: string; secretKey?: string };
    if (!publicKey || !secretKey) throw new Error(`secret ${config.secret} must be JSON {"publicKey", "secretKey"}`);
    return { baseUrl: config.baseUrl, publicKey, secretKey };
  }
  const publicKey = env[config.publicKeyEnv];
  const secretKey = env[config.secretKeyEnv];
  if (!publicKey || !secretKey) throw new Error(`Langfuse keys missing: set ${config.publicKeyEnv} and ${config.secretKeyEnv} (observability.langfuse)`);
  return { baseUrl: config.baseUrl, publicKey, secretKey };
}
