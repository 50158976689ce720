/**
 * Smoke test of a deployed API (LocalStack or AWS): POST /runs, then GET /runs/{id} until the run ends.
 * Usage: tsx scripts/smoke-api.ts <apiUrl> <bearer token>
 */
async function main(): Promise<void> {
  const [base, token] = process.argv.slice(2);
  if (!base || !token) throw new Error('usage: smoke-api <apiUrl> <token>');
  const api = base.replace(/\/+$/, '');
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const start = await fetch(`${api}/runs`, { method: 'POST', headers, body: JSON.stringify({ input: 'What is 12.5% of 3480?' }) });
  if (start.status !== 202) throw new Error(`POST /runs answered ${start.status}: ${await start.text()}`);
  const { runId } = (await start.json()) as { runId: string };
  for (let i = 0; i < 120; i++) {
    const run = (await (await fetch(`${api}/runs/${runId}`, { headers })).json()) as { status: string; answer?: string };
    if (!['RUNNING', 'PAUSED'].includes(run.status)) {
      process.stdout.write(`${JSON.stringify(run)}\n`);
      if (run.status !== 'SUCCEEDED' || !run.answer?.includes('435')) process.exit(1);
      return;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`run ${runId} did not finish in 2 minutes`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
