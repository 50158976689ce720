/**
 * The two engine shapes side by side in one run (docs/hybrid.md): the same ten-step and fifty-step runs through the
 * standard machine and the hybrid one (a Standard parent with Express segments), with what each bills. Run alone:
 * `BENCH_ONLY=engines npm run bench`.
 */
import { type AgentConfigInput, parseConfig } from '../lib/config';
import { countTransitions, type EventLog, LocalEngine } from '../local/engine';
import { startFakeProvider } from '../testing/fake-providers';
import { startLoopback } from '../testing/loopback';

/** us-east-1 list prices (they may change): Step Functions, Lambda arm64, DynamoDB on-demand. */
export const PRICES = {
  transition: 0.025 / 1000,
  expressRequest: 1 / 1e6,
  expressGbSecond: 0.00001667,
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecondArm: 0.0000133334,
  wru: 0.625 / 1e6,
  rru: 0.125 / 1e6,
};
/** Express bills memory in 64 MB steps (the smallest for these small payloads) and duration in 100 ms steps. */
const EXPRESS_GB = 64 / 1024;
/** Lambda time per invocation, model latency excluded (as the cost section of the bench assumes): 100 ms at 512 MB. */
const LAMBDA_SECONDS = 0.1;
const LAMBDA_GB = 0.5;
const LAMBDA_STATES = new Set([
  'LoadRun',
  'CallModel',
  'CallFallbackModel',
  'CallTool',
  'RecordToolFailure',
  'CallToolInMap',
  'RecordToolFailureInMap',
  'Finish',
  'Surrender',
  'Degrade',
  'Refused',
  'Pause',
  'AwaitApproval',
]);

export interface ShapeFigures {
  engine: 'standard' | 'hybrid';
  steps: number;
  status: string;
  standardTransitions: number;
  expressRequests: number;
  /** Billed Express GB-seconds of the run's segments as measured offline (100 ms steps, 64 MB). */
  expressGbSeconds: number;
  lambdaInvocations: number;
  writeUnits: number;
  readUnits: number;
  msPerStep: number;
  per1000: { stepFunctions: number; express: number; lambda: number; dynamoDB: number; total: number };
}

/** Dollars per 1,000 runs of these counts. `expressSecondsPerRun` overrides the measured duration (a real model's latency). */
export function dollarsPer1000(f: Omit<ShapeFigures, 'per1000' | 'status' | 'msPerStep' | 'engine' | 'steps'>) {
  const stepFunctions = f.standardTransitions * PRICES.transition * 1000;
  const express = (f.expressRequests * PRICES.expressRequest + f.expressGbSeconds * PRICES.expressGbSecond) * 1000;
  const lambda = f.lambdaInvocations * (PRICES.lambdaRequest + LAMBDA_SECONDS * LAMBDA_GB * PRICES.lambdaGbSecondArm) * 1000;
  const dynamoDB = (f.writeUnits * PRICES.wru + f.readUnits * PRICES.rru) * 1000;
  return { stepFunctions, express, lambda, dynamoDB, total: stepFunctions + express + lambda + dynamoDB };
}

async function measure(shape: 'standard' | 'hybrid', config: AgentConfigInput, steps: number): Promise<ShapeFigures> {
  const stateEvents: EventLog[] = [];
  const engine = await LocalEngine.start({ config: parseConfig({ ...config, engine: shape }), onStateEvent: (_id, e) => stateEvents.push(e) }, { retryScale: 0 });
  const units = { write: 0, read: 0 };
  // Every request of the handlers goes through the runtime's document client: counted at its `send`, as the cost
  // section counts them (a write unit per started KB, a strongly consistent read unit per started 4 KB).
  const doc = (engine.runtime.runs as unknown as { doc: { send: (command: { input: Record<string, unknown> }) => Promise<unknown> } }).doc;
  const send = doc.send.bind(doc);
  doc.send = async (command) => {
    const name = command.constructor.name;
    const output = (await send(command)) as { Item?: unknown; Items?: unknown[] };
    if (/^(Get|Query|BatchGet)/.test(name)) units.read += Math.max(1, Math.ceil(Buffer.byteLength(JSON.stringify(output?.Items ?? output?.Item ?? [])) / 4096));
    else if (/Put|Update|Delete/.test(name))
      units.write += Math.max(1, Math.ceil(Buffer.byteLength(JSON.stringify(command.input.Item ?? command.input.ExpressionAttributeValues ?? {})) / 1024));
    return output;
  };
  try {
    // A short run first, so that both shapes are measured warm (module loading and JIT are not a per-step cost).
    await engine.run({ input: 'Take 2 steps.', budgets: { maxSteps: 3, maxTokens: 100_000 } });
    stateEvents.length = 0;
    units.write = 0;
    units.read = 0;
    const before = engine.stepFunctions.expressExecutions.length;
    const started = Date.now();
    const { run, events } = await engine.run({ input: `Take ${steps} steps.`, budgets: { maxSteps: steps + 1, maxTokens: 100_000_000 } });
    const ms = Date.now() - started;
    const segments = engine.stepFunctions.expressExecutions.slice(before);
    const expressGbSeconds = segments.reduce((sum, x) => sum + Math.ceil(((x.stopDate?.getTime() ?? 0) - x.startDate.getTime()) / 100) * 0.1 * EXPRESS_GB, 0);
    const counts = {
      standardTransitions: countTransitions(events),
      expressRequests: segments.length,
      expressGbSeconds,
      lambdaInvocations: stateEvents.filter((e) => e.type === 'StateEntered' && LAMBDA_STATES.has((e as { state: { name: string } }).state.name)).length,
      writeUnits: units.write,
      readUnits: units.read,
    };
    return { engine: shape, steps: run.steps, status: run.status, ...counts, msPerStep: ms / Math.max(1, run.steps), per1000: dollarsPer1000(counts) };
  } finally {
    await engine.close();
  }
}

/** Measures both shapes on ten-step and fifty-step runs; returns the figures and the markdown section. */
export async function engines(): Promise<{ figures: ShapeFigures[]; lines: string[] }> {
  const model = await startFakeProvider('openai');
  const tool = await startLoopback();
  tool.on('/lookup', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"value":"a short tool result"}');
  });
  model.respondWith((body) => {
    const asked = Number(/Take (\d+) steps/.exec(JSON.stringify(body.messages))?.[1] ?? 1);
    const done = (body.messages as { role: string }[]).filter((m) => m.role === 'tool').length;
    return done < asked - 1 ? { kind: 'tools', calls: [{ name: 'lookup', args: { n: done + 1 } }] } : { kind: 'text', text: 'done' };
  });
  const config: AgentConfigInput = {
    models: { primary: { provider: 'openai', model: 'bench', contextWindowTokens: 128_000, baseUrl: model.baseUrl, timeoutMs: 5000, maxOutputTokens: 64 } },
    tools: [{ name: 'lookup', kind: 'http', url: tool.url('/lookup'), timeoutMs: 5000 }],
    budgets: { maxSteps: 51, maxTokens: 100_000_000, allowHighStepBudget: true },
  };
  const figures: ShapeFigures[] = [];
  try {
    for (const steps of [10, 50]) for (const shape of ['standard', 'hybrid'] as const) figures.push(await measure(shape, config, steps));
  } finally {
    await model.close();
    await tool.close();
  }
  const usd = (n: number) => `$${n.toFixed(3)}`;
  const row = (f: ShapeFigures) =>
    `| ${f.engine}, ${f.steps} steps | ${f.standardTransitions} | ${f.expressRequests} | ${f.expressGbSeconds.toFixed(4)} | ${f.lambdaInvocations} | ${f.writeUnits} / ${f.readUnits} | ${f.msPerStep.toFixed(1)} | ${usd(f.per1000.stepFunctions)} | ${usd(f.per1000.express)} | ${usd(f.per1000.lambda)} | ${usd(f.per1000.dynamoDB)} | **${usd(f.per1000.total)}** |`;
  const ten = (shape: string) => figures.find((f) => f.steps === 10 && f.engine === shape);
  const hybridTen = ten('hybrid');
  // A real model answers in seconds: the segment's Express duration grows with it (the parent's transitions do not).
  const withLatency = (seconds: number) => (hybridTen ? dollarsPer1000({ ...hybridTen, expressGbSeconds: hybridTen.steps * seconds * EXPRESS_GB }).total : 0);
  const lines = [
    '## Engine shapes: standard vs hybrid (Express segments)',
    '',
    'The same runs through both engines, in this run (`engine: "standard"` and `engine: "hybrid"`, `hybrid.segmentSteps` 10, its default; a short tool result per step, the fake model answering at once). Billed: Standard state transitions (the parent only, in the hybrid), Express requests and GB-seconds (64 MB, 100 ms steps, as measured offline), Lambda invocations (parent and segments), DynamoDB write / read request units as the handlers sent them. Dollars per 1,000 runs, model tokens excluded.',
    '',
    '| run | Standard transitions | Express requests | Express GB-s | Lambda invocations | DynamoDB WRU / RRU | ms per step offline | Step Functions Standard | Express | Lambda | DynamoDB | total per 1,000 runs |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...figures.map(row),
    '',
    `With a real model the segment runs as long as its calls: at 2 s per step, a ten-step hybrid run bills ${(10 * 2 * EXPRESS_GB).toFixed(2)} Express GB-s, ${usd(withLatency(2))} per 1,000 runs in all; at 10 s per step, ${usd(withLatency(10))}. The arithmetic and which shape to choose when: docs/hybrid.md.`,
    '',
  ];
  return { figures, lines };
}
