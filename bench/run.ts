/**
 * `npm run bench`: every figure measured in one run on this machine, written to docs/benchmarks.md and
 * docs/benchmarks.json. Loopback only; every loop bounded.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { StateMachine } from 'aws-local-stepfunctions';
import dynalite from 'dynalite';
import { build } from 'esbuild';
import { createDocumentClient } from '../lambdas/store/client';
import { bundlesSdk, esbuildOptionsOf, externalModulesOf } from '../lib/bundling';
import { type AgentConfigInput, CONFIG_ENV, handlerConfig, parseConfig } from '../lib/config';
import { HANDLER_NAMES, handlerEntry } from '../lib/handler-names';
import { agentTableInput, ensureTable } from '../local/dynamo';
import { countTransitions, type EventLog, LocalEngine } from '../local/engine';
import { printedHelp } from '../scripts/usage';
import { type FakeProvider, startFakeProvider } from '../testing/fake-providers';
import { startLoopback } from '../testing/loopback';
import { engines } from './engines';

const root = join(__dirname, '..');
const results: Record<string, unknown> = {};
const lines: string[] = [];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

async function engineFor(config: AgentConfigInput, extra: Partial<Parameters<typeof LocalEngine.start>[0]> = {}) {
  return LocalEngine.start({ config: parseConfig(config), ...extra }, { retryScale: 0 });
}

/** Billed transitions per step (StateEntered, Map iterations included), split at each CallModel. */
function perStep(events: EventLog[]): number[] {
  const out: number[] = [];
  let i = -1;
  for (const e of events) {
    if (e.type !== 'StateEntered') continue;
    if (e.state.name === 'CallModel') out[++i] = 0;
    if (i >= 0) out[i] = (out[i] ?? 0) + 1;
  }
  return out;
}

async function transitions() {
  const engine = await engineFor({});
  try {
    const { events } = await engine.run({ input: 'What is 12.5% of 3480?' });
    const steps = perStep(events);
    results.transitions = { perSingleToolStep: steps[0], perFinalStep: steps.at(-1), perRunOverhead: countTransitions(events) - steps.reduce((a, b) => a + b, 0) };
    lines.push(
      '## Billed state transitions',
      '',
      '| | single-tool step | final step |',
      '|---|---|---|',
      `| this runtime (measured) | ${steps[0]} | ${steps.at(-1)} |`,
      '| aws-samples tool-use state machine (reference, same engine) | 7 | 3 |',
      '| guyernest/step-functions-agent (reference, same engine) | 7 | 4 |',
      '',
      `Plus ${countTransitions(events) - steps.reduce((a, b) => a + b, 0)} per run (LoadRun, Route). The references are the counts given for those public definitions measured on aws-local-stepfunctions; ours are counted from this run's event log (StateEntered events).`,
      '',
    );
  } finally {
    await engine.close();
  }
  await approvalTransitions();
}

/** An approval step: CallModel, Route, AwaitApproval (waits on its task token), Route, CallTool. */
async function approvalTransitions() {
  const engine = await engineFor({ toolApprovals: { calculator: 'required' } });
  try {
    const runId = 'bench-approval';
    const done = engine.run({ input: 'What is 12.5% of 3480?', runId });
    let callId: string | undefined;
    for (let i = 0; i < 2000 && !callId; i++) {
      const run = await engine.runtime.runs.getRun(runId);
      callId = run?.status === 'AWAITING_APPROVAL' ? Object.keys(run.approvals ?? {})[0] : undefined;
      if (!callId) await new Promise((r) => setTimeout(r, 10));
    }
    if (!callId) throw new Error('the approval run never waited for its decision');
    await engine.control.decide(runId, callId, { decision: 'approve', decidedBy: 'bench' });
    const { events, run } = await done;
    if (run.status !== 'SUCCEEDED') throw new Error(`the approval run ended ${run.status}`);
    const steps = perStep(events);
    const plain = (results.transitions as { perSingleToolStep: number }).perSingleToolStep;
    results.transitions = { ...(results.transitions as object), perApprovalStep: steps[0] };
    lines.push(
      `An approval step (a tool with \`"approval": "required"\`) takes ${steps[0]} billed transitions instead of ${plain}: CallModel, Route, AwaitApproval, Route, CallTool. The wait itself costs nothing (a task token; Step Functions bills transitions, not time), and the steps without approval-required calls keep ${plain}.`,
      '',
    );
  } finally {
    await engine.close();
  }
}

/** 10 KB of text shaped like a real tool output (words, numbers, punctuation). */
const TEN_KB = Array.from({ length: 2000 }, (_, i) => ['alpha', 'beta', `${i}`, 'gamma,', 'delta.', 'epsilon'][i % 6])
  .join(' ')
  .slice(0, 10 * 1024);

/** A model that asks for a 10 KB tool output every step, for `steps` steps. */
async function bigOutputs(model: FakeProvider, steps: number) {
  model.respondWith((body) => {
    const done = (body.messages as { role: string }[]).filter((m) => m.role === 'tool').length;
    return done < steps ? { kind: 'tools', calls: [{ name: 'blob', args: { n: done } }] } : { kind: 'text', text: 'done' };
  });
}

async function payloadAndWrites() {
  const model = await startFakeProvider('openai');
  const tool = await startLoopback();
  tool.on('/blob', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(TEN_KB);
  });
  const STEPS = 50;
  await bigOutputs(model, STEPS);
  const payloads: number[] = [];
  let step = 0;
  const engine = await engineFor(
    {
      models: { primary: { provider: 'openai', model: 'bench', contextWindowTokens: 128_000, baseUrl: model.baseUrl, timeoutMs: 5000, maxOutputTokens: 64 } },
      tools: [{ name: 'blob', kind: 'http', url: tool.url('/blob'), timeoutMs: 5000 }],
      budgets: { maxSteps: STEPS + 1, maxTokens: 100_000_000, allowHighStepBudget: true },
    },
    {
      onStateEvent: (_id, e) => {
        if (e.type === 'StateEntered' && e.state.name === 'CallModel') {
          payloads.push(Buffer.byteLength(JSON.stringify(e.state.input)));
          step = payloads.length;
        }
      },
    },
  );
  // Count DynamoDB writes and their bytes per step, and the bytes read (the engine's handlers share one warm runtime).
  const writes: { step: number; items: number; bytes: number; wru: number }[] = [];
  const reads: { step: number; requests: number; items: number; bytes: number }[] = [];
  // Every request of the handlers goes through the runtime's document client (IAM offline then sends it with the
  // calling function's own client): counted at its `send`.
  const doc = (engine.runtime.runs as unknown as { doc: { send: (command: { input: Record<string, unknown> }) => Promise<unknown> } }).doc;
  const send = doc.send.bind(doc);
  doc.send = async (command) => {
    const name = command.constructor.name;
    if (/^(Get|Query|BatchGet)/.test(name)) {
      const output = (await send(command)) as { Item?: unknown; Items?: unknown[] };
      const r = reads[step] ?? { step, requests: 0, items: 0, bytes: 0 };
      r.requests++;
      r.items += output.Items?.length ?? (output.Item ? 1 : 0);
      r.bytes += Buffer.byteLength(JSON.stringify(output.Items ?? output.Item ?? []));
      reads[step] = r;
      return output;
    }
    if (/Put|Update|Delete/.test(name)) {
      const input = command.input;
      const w = writes[step] ?? { step, items: 0, bytes: 0, wru: 0 };
      const bytes = Buffer.byteLength(JSON.stringify(input.Item ?? input.ExpressionAttributeValues ?? {}));
      w.items++;
      w.bytes += bytes;
      // On-demand bills one write request unit per started KB of the item.
      w.wru += Math.max(1, Math.ceil(bytes / 1024));
      writes[step] = w;
    }
    return send(command);
  };
  try {
    const started = Date.now();
    const { run } = await engine.run({ input: 'Fetch fifty blobs.' });
    // The reference: a definition that carries the conversation in its payload.
    let carried = 0;
    let crossesAt = 0;
    const conversation: unknown[] = [{ role: 'user', content: 'Fetch fifty blobs.' }];
    for (let s = 1; s <= STEPS && !crossesAt; s++) {
      conversation.push({ role: 'assistant', content: '', toolCalls: [{ id: `call_${s}`, name: 'blob', arguments: { n: s } }] });
      conversation.push({ role: 'tool', toolCallId: `call_${s}`, name: 'blob', content: TEN_KB });
      carried = Buffer.byteLength(JSON.stringify({ messages: conversation }));
      if (carried > 262_144) crossesAt = s;
    }
    const perStepWrites = writes.filter(Boolean).slice(1, -1);
    results.payload = { step1: payloads[0], step50: payloads[STEPS - 1], steps: run.steps, referenceCrossesLimitAtStep: crossesAt, seconds: (Date.now() - started) / 1000 };
    results.writes = perStepWrites.map((w) => ({ step: w.step, items: w.items, bytes: w.bytes, wru: w.wru }));
    const perStepReads = reads.filter(Boolean).slice(1, -1);
    results.reads = perStepReads.map((r) => ({ step: r.step, requests: r.requests, items: r.items, bytes: r.bytes }));
    lines.push(
      '## State payload size (10 KB tool outputs)',
      '',
      '| | step 1 | step 50 |',
      '|---|---|---|',
      `| this runtime: the state entering CallModel (measured) | ${payloads[0]} B | ${payloads[STEPS - 1]} B |`,
      `| a definition that carries the conversation in the payload (same outputs, computed) | passes 262,144 B at step ${crossesAt} | — |`,
      '',
      'The payload carries ids and counters only; messages and tool outputs live in DynamoDB, so it does not grow with the conversation.',
      '',
      '## DynamoDB writes per step',
      '',
      '| step | items written | bytes written | write request units |',
      '|---|---|---|---|',
      ...perStepWrites.filter((w) => [1, 2, 5, 10, 25, 49].includes(w.step)).map((w) => `| ${w.step} | ${w.items} | ${w.bytes} | ${w.wru} |`),
      '',
      'Writes per step stay flat against the step index: the assistant message with its model_call event, the tool result with its tool_call event (one item each: the events reference the messages instead of copying them), the run update, and the two breaker outcome counters (model, tool) — never a rewrite of the history. The 10 KB tool output is written once.',
      '',
      '## DynamoDB reads per step (warm container)',
      '',
      '| step | requests | items returned | bytes read |',
      '|---|---|---|---|',
      ...perStepReads.filter((r) => [1, 2, 5, 10, 25, 45, 49].includes(r.step)).map((r) => `| ${r.step} | ${r.requests} | ${r.items} | ${r.bytes} |`),
      '',
      'The model handler keeps the conversation it has read per run and reads only the messages after the last one it saw (lambdas/store/conversation-cache.ts), so the bytes read per step do not grow with the step index. Offline every handler shares one warm runtime, as a warm container does.',
      '',
    );
  } finally {
    await engine.close();
    await model.close();
    await tool.close();
  }
}

async function bundles() {
  // Inside the repo (git-ignored), so what a bundle leaves external resolves from node_modules: call-model's AWS SDK,
  // as the Lambda runtime provides its own copy (loaded the same way, CommonJS).
  const out = join(root, '.tmp', 'bench-bundles');
  mkdirSync(out, { recursive: true });
  const entries: Record<string, string> = {
    'hello-world': join(out, 'hello.ts'),
    ...Object.fromEntries(HANDLER_NAMES.map((name) => [name, handlerEntry(name)])),
  };
  writeFileSync(entries['hello-world'] as string, 'export const handler = async () => ({ statusCode: 200, body: "hello" });\n');
  const isSdk = (input: string) => /node_modules\/@(aws-sdk|smithy)\//.test(input);
  /** Builds a handler as lib/functions.ts does (source map included) and times its load, as Lambda's init loads it. */
  async function measure(name: string, entry: string, external: string[], suffix = '') {
    const file = join(out, `${name}${suffix}.js`);
    const built = await build({ ...esbuildOptionsOf(name), entryPoints: [entry], outfile: file, external, metafile: true, logLevel: 'silent' });
    const inputs = Object.values(built.metafile.outputs).find((o) => o.entryPoint)?.inputs ?? {};
    const sdkBytes = Object.entries(inputs).reduce((sum, [input, { bytesInOutput }]) => sum + (isSdk(input) ? bytesInOutput : 0), 0);
    const times: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < 5; i++) {
      // With the source maps on, as the handlers run (NODE_OPTIONS in lib/functions.ts): the map is read at load.
      const script = `const c=process.cpuUsage(),t=process.hrtime.bigint();require(${JSON.stringify(file)});const d=process.cpuUsage(c);process.stdout.write(Number(process.hrtime.bigint()-t)/1e6+' '+(d.user+d.system)/1e3)`;
      const [wall, used] = execFileSync(process.execPath, ['--enable-source-maps', '-e', script], { encoding: 'utf8' }).split(' ').map(Number);
      times.push(wall ?? Number.NaN);
      cpu.push(used ?? Number.NaN);
    }
    return { handler: name, bytes: statSync(file).size, sdkBytes, initMs: median(times), initCpuMs: median(cpu) };
  }
  const rows: Awaited<ReturnType<typeof measure>>[] = [];
  for (const [name, entry] of Object.entries(entries)) rows.push(await measure(name, entry, externalModulesOf(name)));
  // The reference, in the same run: two handlers with the SDK left to the runtime, as call-model has it.
  const sdkExternal: Awaited<ReturnType<typeof measure>>[] = [];
  for (const name of ['load-run', 'call-tool']) sdkExternal.push(await measure(name, entries[name] as string, externalModulesOf('call-model'), '.sdk-external'));
  results.bundles = rows;
  results.bundlesSdkExternal = sdkExternal;
  const cold = await coldStart(join(out, 'load-run.js'), join(out, 'load-run.sdk-external.js'));
  results.coldStart = cold;
  lines.push(
    '## Handler bundles',
    '',
    `esbuild, minified, as lib/functions.ts bundles them (see lib/bundling.ts): every handler but call-model bundles the AWS SDK v3 from its ES module builds (only the clients and commands it imports; external: the credential providers the default chain loads only when the environment has no credentials, and the event-stream serde, which none of their operations uses; call-tool also leaves the Lambda client of the optional \`lambda\` tools to the runtime, loaded on the first lambda-tool call); call-model leaves \`@aws-sdk/*\` and \`@smithy/*\` to the Lambda runtime (here: loaded from node_modules, CommonJS, as the runtime loads its copy). Module init = \`require()\` of the bundle in a fresh node process run with \`--enable-source-maps\` (as the handlers run; the map is read at load), median of 5, wall clock (\`initMs\`) and the CPU time the process spent in it (\`initCpuMs\`, user + system: less sensitive to the other processes on the machine, but it counts the runtime's helper threads too). "of which AWS SDK" = the bytes of \`@aws-sdk/*\` and \`@smithy/*\` code in the bundle. The machine is shared and loaded: init times are noisy, compare them within one run.`,
    '',
    '| handler | bundle | of which AWS SDK | module init | its CPU time |',
    '|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.handler} | ${kb(r.bytes)} | ${r.handler === 'hello-world' ? '—' : bundlesSdk(r.handler) ? kb(r.sdkBytes) : 'external (runtime)'} | ${r.initMs.toFixed(1)} ms | ${r.initCpuMs.toFixed(1)} ms |`,
    ),
    '',
    'Each handler wires only what it uses (lambdas/runtime/*.ts): the tokenizer ranks (~1 MB) are in call-model only, the tool clients in call-model and call-tool only, validation is zod/mini, and the config is parsed, not validated again (synth validated it). The MCP SDK ships next to call-model and call-tool when an `mcp` tool is configured, and loads on the first MCP connection. The hello-world line is the floor.',
    '',
    `The same handlers with the SDK left to the Lambda runtime (as call-model has it; loaded from node_modules, CommonJS), in this run: ${sdkExternal.map((r) => `${r.handler} ${kb(r.bytes)}, ${r.initMs.toFixed(1)} ms (CPU ${r.initCpuMs.toFixed(1)} ms)`).join('; ')} (\`bundlesSdkExternal\` in the JSON).`,
    '',
    'Init and the first invocation of load-run (a new run: one read, one conditional write, one trace event), against a local DynamoDB over HTTPS as in AWS (dynalite, self-signed), median of 5 cold processes: whether what left init moved into the first request.',
    '',
    '| load-run | module init | its CPU time | first invocation | its CPU time |',
    '|---|---|---|---|---|',
    ...cold.map((r) => `| ${r.variant} | ${r.initMs.toFixed(1)} ms | ${r.initCpuMs.toFixed(1)} ms | ${r.firstMs.toFixed(1)} ms | ${r.firstCpuMs.toFixed(1)} ms |`),
    '',
    `Init plus first invocation: ${cold.map((r) => `${r.variant}: ${(r.initMs + r.firstMs).toFixed(0)} ms, CPU ${(r.initCpuMs + r.firstCpuMs).toFixed(0)} ms`).join('; ')}.`,
    '',
    "Loading the runtime's CommonJS SDK (`@aws-sdk/client-dynamodb` is one file with every command, ~175 KB, and pulls ~30 more files of `@smithy/*` and `@aws-sdk/core`) was most of these handlers' init; bundled from the ES module builds, a handler parses one file holding only the commands it sends. What remains is mostly Node's own `https`/`crypto` modules, which any AWS client loads.",
    '',
  );
}

/**
 * Init, then the first invocation, of two builds of load-run in fresh processes, against dynalite over HTTPS (the
 * SDK takes another path for plain HTTP endpoints): whether the work that left init reappears in the first request.
 */
async function coldStart(bundled: string, sdkExternal: string) {
  const server = dynalite({ ssl: true, createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tableName = 'ColdStartTable';
  const doc = createDocumentClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ rejectUnauthorized: false }) }),
  });
  try {
    await ensureTable(doc, agentTableInput(tableName));
    const env = {
      PATH: process.env.PATH,
      TABLE_NAME: tableName,
      AGENT_STACK_NAME: 'BenchStack',
      [CONFIG_ENV]: JSON.stringify(handlerConfig(parseConfig({}))),
      AWS_ENDPOINT_URL_DYNAMODB: endpoint,
      AWS_REGION: 'local',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      NODE_TLS_REJECT_UNAUTHORIZED: '0',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      NODE_OPTIONS: '--enable-source-maps',
    };
    const context =
      "{ functionName: 'load-run', functionVersion: '1', invokedFunctionArn: 'arn:aws:lambda:local:0:function:load-run', memoryLimitInMB: '512', awsRequestId: 'cold', getRemainingTimeInMillis: () => 10000 }";
    const rows: { variant: string; initMs: number; initCpuMs: number; firstMs: number; firstCpuMs: number }[] = [];
    for (const [variant, file] of [
      ['SDK bundled (as deployed)', bundled],
      ["SDK external (the runtime's)", sdkExternal],
    ] as const) {
      const samples: number[][] = [];
      for (let i = 0; i < 5; i++) {
        const script = `const h=process.hrtime.bigint,u=()=>{const c=process.cpuUsage();return (c.user+c.system)/1e3};const t0=h(),c0=u();const m=require(${JSON.stringify(file)});const t1=h(),c1=u();m.handler({runId:'cold-${rows.length}-${i}',input:'hi'},${context}).then(()=>{const t2=h(),c2=u();process.stdout.write('\\nCOLD '+[Number(t1-t0)/1e6,c1-c0,Number(t2-t1)/1e6,c2-c1].join(' ')+'\\n')})`;
        const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { env, encoding: 'utf8', timeout: 60_000 });
        const line = stdout.split('\n').find((l) => l.startsWith('COLD '));
        if (!line) throw new Error(`no timing from ${file}: ${stdout.slice(-500)}`);
        samples.push(line.slice('COLD '.length).split(' ').map(Number));
      }
      const at = (k: number) => median(samples.map((s) => s[k] ?? Number.NaN));
      rows.push({ variant, initMs: at(0), initCpuMs: at(1), firstMs: at(2), firstCpuMs: at(3) });
    }
    return rows;
  } finally {
    doc.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function outage() {
  const rows: { breaker: boolean; requests: number; degraded: number }[] = [];
  for (const enabled of [true, false]) {
    const model = await startFakeProvider('openai');
    model.setDefault({ kind: 'status', status: 503 });
    const engine = await engineFor({
      models: {
        primary: { provider: 'openai', model: 'down', contextWindowTokens: 128_000, baseUrl: model.baseUrl, timeoutMs: 2000 },
        fallback: { provider: 'demo', model: 'default' },
      },
      breaker: { enabled, failureThreshold: 5, minimumCalls: 5, windowSeconds: 60, cooldownSeconds: 30 },
    });
    try {
      const runs = await Promise.all(Array.from({ length: 50 }, (_, i) => engine.run({ input: `What is ${i} + 1?` })));
      rows.push({ breaker: enabled, requests: model.requests.length, degraded: runs.filter((r) => r.run.status === 'DEGRADED').length });
    } finally {
      await engine.close();
      await model.close();
    }
  }
  results.outage = rows;
  lines.push(
    '## Provider outage: 50 concurrent runs against a provider that fails every request',
    '',
    '| breaker | requests reaching the failing provider | runs ending DEGRADED (fallback model) |',
    '|---|---|---|',
    ...rows.map((r) => `| ${r.breaker ? 'on (5 failures / 60 s, 30 s cool-down)' : 'off'} | ${r.requests} | ${r.degraded} / 50 |`),
    '',
    'With the breaker on, only the calls already in flight when the first failure came back reach the provider, plus one admitted call at a time while the breaker is suspect (docs/resilience.md, "The first wave"); once it is open, no request is sent until one probe after the cool-down. Run alone: `BENCH_ONLY=outage npm run bench`.',
    '',
  );
}

/**
 * Runs stopped mid-loop (100 cancelled by their owner, 200 stopped by an admin) at random points of their steps:
 * model requests that reached the provider after the run's terminal write (docs/resilience.md, "No paid request
 * after a stop").
 */
async function stops() {
  const rows: { how: string; runs: number; requests: number; afterStop: number }[] = [];
  const model = await startFakeProvider('openai');
  const arrivals = new Map<string, number[]>();
  model.respondWith((body) => {
    const prompt = String((body.messages as { role: string; content: unknown }[]).find((m) => m.role === 'user')?.content);
    arrivals.set(prompt, [...(arrivals.get(prompt) ?? []), Date.now()]);
    const done = (body.messages as { role: string }[]).filter((m) => m.role === 'tool').length;
    // biome-ignore lint/suspicious/noThenProperty: a scripted reply's follow-up, not a thenable
    return { kind: 'delay', ms: 5, then: { kind: 'tools', calls: [{ name: 'calculator', args: { expression: `${done} + 1` } }] } };
  });
  const engine = await engineFor({
    models: { primary: { provider: 'openai', model: 'quick', contextWindowTokens: 128_000, baseUrl: model.baseUrl, timeoutMs: 5000 } },
    budgets: { maxSteps: 50 },
  });
  try {
    for (const [how, reason, n] of [
      ['cancelled by the owner', 'CANCELLED', 100],
      ['stopped by an admin', 'KILLED', 200],
    ] as const) {
      const ids = Array.from({ length: n }, (_, i) => `${reason}-${i}`);
      const finished = ids.map((runId) => engine.run({ input: `prompt of ${runId}`, runId, userId: runId }).catch(() => undefined));
      const pending = new Set(ids);
      const stopping: Promise<void>[] = [];
      const deadline = Date.now() + 120_000;
      while (pending.size > 0 && Date.now() < deadline) {
        for (const runId of [...pending]) {
          if ((arrivals.get(`prompt of ${runId}`)?.length ?? 0) >= 1 + (Number(runId.split('-')[1]) % 3)) {
            pending.delete(runId);
            stopping.push(engine.control.cancel(runId, reason));
          }
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      await Promise.all(stopping);
      await Promise.all(finished);
      await new Promise((r) => setTimeout(r, 50));
      let requests = 0;
      let afterStop = 0;
      for (const runId of ids) {
        const final = Date.parse((await engine.runtime.runs.getRun(runId))?.updatedAt ?? '');
        for (const t of arrivals.get(`prompt of ${runId}`) ?? []) {
          requests++;
          if (t > final) afterStop++;
        }
      }
      rows.push({ how, runs: n, requests, afterStop });
    }
  } finally {
    await engine.close();
    await model.close();
  }
  results.stops = rows;
  lines.push(
    '## Stops: model requests after a run is final',
    '',
    '| runs | model requests in all | requests reaching the provider after the terminal write |',
    '|---|---|---|',
    ...rows.map((r) => `| ${r.runs} ${r.how} (after 1-3 model calls each) | ${r.requests} | ${r.afterStop} |`),
    '',
    'The model step reads the run again right before each provider request, after its other checks.',
    '',
  );
}

async function engineOverhead() {
  const STEPS = 20;
  const engine = await engineFor({ models: { primary: { provider: 'demo', model: 'wander' } }, budgets: { maxSteps: STEPS } });
  let ours = 0;
  try {
    await engine.run({ input: 'warm up', budgets: { maxSteps: 2 } });
    const t = process.hrtime.bigint();
    await engine.run({ input: 'wander', budgets: { maxSteps: STEPS } });
    ours = Number(process.hrtime.bigint() - t) / 1e6 / STEPS;
    // The same definition on bare aws-local-stepfunctions with no-op tasks (a fixed number of loop iterations).
    const definition = engine.definition;
    const noop = new StateMachine(definition as never, { validationOptions: { noValidate: true } });
    let calls = 0;
    const handlers = Object.fromEntries(
      [
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
      ].map((n) => [
        n,
        async (input: { Payload: Record<string, unknown> }) => {
          if (n === 'LoadRun')
            return { Payload: { runId: 'r', step: 0, maxSteps: STEPS, maxTokens: 1, outcome: 'start', toolCalls: [], toolCount: 0, callSig: '', prevCallSig: '' } };
          if (n === 'CallModel') {
            calls++;
            const step = Number(input.Payload.step);
            return {
              Payload: {
                runId: 'r',
                step,
                maxSteps: STEPS,
                maxTokens: 1,
                outcome: 'tools',
                toolCalls: [{ id: `c${step}` }],
                toolCount: 1,
                callSig: `s${step}`,
                prevCallSig: `s${step - 1}`,
              },
            };
          }
          return { Payload: {} };
        },
      ]),
    );
    const t2 = process.hrtime.bigint();
    await noop.run({}, { overrides: { taskResourceLocalHandlers: handlers as never }, context: { Task: { Token: 't' } } }).result;
    const bare = Number(process.hrtime.bigint() - t2) / 1e6 / Math.max(calls, 1);
    results.engine = { oursMsPerStep: ours, bareMsPerStep: bare };
    lines.push(
      '## Offline engine overhead per step',
      '',
      '| | ms per step |',
      '|---|---|',
      `| this runtime offline (handlers, dynalite, demo model, keyword search) | ${ours.toFixed(1)} |`,
      `| the same definition on bare aws-local-stepfunctions, no-op tasks | ${bare.toFixed(2)} |`,
      '',
      "The engine itself is not the bottleneck: the time goes to the handlers' DynamoDB round trips (dynalite on loopback) and the tools.",
      '',
    );
  } finally {
    await engine.close();
  }
}

function cost() {
  const t = results.transitions as { perSingleToolStep: number; perFinalStep: number; perRunOverhead: number };
  const writes = results.writes as { items: number; bytes: number; wru: number }[];
  const steps = 10;
  const transitionsPerRun = t.perRunOverhead + (steps - 1) * t.perSingleToolStep + t.perFinalStep;
  const invocationsPerRun = 1 + (steps - 1) * 2 + 1 + 1; // LoadRun, CallModel+CallTool per tool step, the last CallModel, Finish
  const writeUnitsPerStep = median(writes.map((w) => w.wru));
  const wruPerRun = writeUnitsPerStep * steps + 4;
  const rruPerRun = steps * 4;
  const lambdaSecondsPerInvocation = 0.1; // bookkeeping time, model latency excluded (see below)
  const prices = { transition: 0.025 / 1000, request: 0.2 / 1e6, gbSecondArm: 0.0000133334, wru: 0.625 / 1e6, rru: 0.125 / 1e6 };
  const per1000 = {
    stepFunctions: transitionsPerRun * prices.transition * 1000,
    lambdaRequests: invocationsPerRun * prices.request * 1000,
    lambdaCompute: invocationsPerRun * lambdaSecondsPerInvocation * 0.5 * prices.gbSecondArm * 1000,
    dynamoDB: (wruPerRun * prices.wru + rruPerRun * prices.rru) * 1000,
  };
  const total = Object.values(per1000).reduce((a, b) => a + b, 0);
  results.cost = { transitionsPerRun, invocationsPerRun, wruPerRun, per1000, total };
  lines.push(
    '## Cost per 1,000 ten-step runs (model tokens excluded)',
    '',
    `From the counts above: ${transitionsPerRun} state transitions, ${invocationsPerRun} Lambda invocations and about ${wruPerRun} DynamoDB write request units per ten-step run (with the 10 KB tool outputs of the payload run; small outputs write far less).`,
    '',
    '| item | per 1,000 runs |',
    '|---|---|',
    `| Step Functions Standard ($0.025 per 1,000 transitions) | $${per1000.stepFunctions.toFixed(3)} |`,
    `| Lambda requests ($0.20 per 1M) | $${per1000.lambdaRequests.toFixed(4)} |`,
    `| Lambda compute, arm64, 512 MB, 100 ms bookkeeping per invocation ($0.0000133334 per GB-s) | $${per1000.lambdaCompute.toFixed(4)} |`,
    `| DynamoDB on-demand ($0.625 per 1M write, $0.125 per 1M read request units, the prices since the November 2024 reduction) | $${per1000.dynamoDB.toFixed(4)} |`,
    `| **total** | **$${total.toFixed(3)}** |`,
    '',
    "Prices as published for us-east-1 (they may change): https://aws.amazon.com/step-functions/pricing/, https://aws.amazon.com/lambda/pricing/, https://aws.amazon.com/dynamodb/pricing/on-demand/. The model call's own latency is billed as Lambda time while the handler waits: add (model seconds × 0.5 GB × $0.0000133334) per call, and the provider's token prices.",
    '',
  );
}

/**
 * Tokens sent per model call at step 30 of a run whose tool results (2 KB each) far exceed an 8,000-token window:
 * with compaction (the model's `contextWindowTokens`, the fake enforcing the window as a real one does) and without
 * (the same run against a model with room for everything).
 */
async function compaction() {
  const STEPS = 30;
  const WINDOW = 8000;
  const page = (n: number) => Array.from({ length: 40 }, (_, i) => `page ${n} line ${i}: the quick brown fox ${n * 40 + i}`).join('\n');
  const measureWith = async (windowTokens: number | undefined) => {
    const model = await startFakeProvider('openai');
    const tool = await startLoopback();
    tool.on('/page', (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(page(Number((JSON.parse(req.body || '{}') as { n?: number }).n ?? 0)));
    });
    model.respondWith((body) => {
      const done = (body.messages as { role: string }[]).filter((m) => m.role === 'tool').length;
      return done < STEPS ? { kind: 'tools', calls: [{ name: 'page', args: { n: done + 1 } }] } : { kind: 'text', text: 'done' };
    });
    model.setContextWindow(windowTokens);
    const engine = await engineFor({
      models: { primary: { provider: 'openai', model: 'bench', baseUrl: model.baseUrl, timeoutMs: 5000, maxOutputTokens: 512, contextWindowTokens: windowTokens ?? 1_000_000 } },
      tools: [{ name: 'page', kind: 'http', url: tool.url('/page'), timeoutMs: 5000 }],
      budgets: { maxSteps: STEPS + 1, maxTokens: 100_000_000 },
    });
    try {
      const { run } = await engine.run({ input: 'Read thirty pages.' });
      const compactions = (await engine.runtime.runs.listEvents(run.runId)).filter((e) => e.type === 'context_compacted').length;
      return {
        status: run.status,
        steps: run.steps,
        atStep30: model.promptTokens[STEPS - 1] ?? 0,
        max: Math.max(...model.promptTokens),
        compactions,
        inputTokensSent: model.promptTokens.reduce((a, b) => a + b, 0),
      };
    } finally {
      await engine.close();
      await model.close();
      await tool.close();
    }
  };
  const withCompaction = await measureWith(WINDOW);
  const without = await measureWith(undefined);
  results.compaction = { window: WINDOW, withCompaction, without };
  lines.push(
    '## Context compaction (30 steps, 2 KB tool results, an 8,000-token window)',
    '',
    '| | status | prompt tokens at step 30 | largest prompt | prompt tokens over the run | compactions |',
    '|---|---|---|---|---|---|',
    `| with compaction (\`contextWindowTokens: ${WINDOW}\`) | ${withCompaction.status} | ${withCompaction.atStep30} | ${withCompaction.max} | ${withCompaction.inputTokensSent} | ${withCompaction.compactions} |`,
    `| without (a window with room for everything) | ${without.status} | ${without.atStep30} | ${without.max} | ${without.inputTokensSent} | ${without.compactions} |`,
    '',
    'Tokens are counted by the fake server over the text of each request (cl100k). Without compaction the prompt at step 30 is more than twice the 8,000-token window: a real model with that window answers `context_length_exceeded` long before. With it, older tool results are elided (their full text stays in DynamoDB and the trace) and every prompt stays under the window (docs/agent.md).',
    '',
  );
}

/** The sections, by name: `BENCH_ONLY=compaction npm run bench` runs (and writes) only the ones named. */
const SECTIONS: Record<string, () => Promise<void> | void> = {
  transitions,
  payloadAndWrites,
  bundles,
  outage,
  stops,
  engineOverhead,
  cost,
  compaction,
  // The standard and the hybrid engine side by side (bench/engines.ts): `BENCH_ONLY=engines npm run bench`.
  engines: async () => {
    const measured = await engines();
    results.engines = measured.figures;
    lines.push(...measured.lines);
  },
};

/** Below this line docs/benchmarks.md holds figures `npm run bench` does not measure; it keeps them. */
const KEPT_MARKER = '<!-- measured by hand: kept by npm run bench -->';

async function main() {
  const started = Date.now();
  const only = process.env.BENCH_ONLY?.split(',').filter(Boolean);
  for (const [name, section] of Object.entries(SECTIONS)) if (!only || only.includes(name)) await section();
  if (only) {
    process.stdout.write(`${lines.join('\n')}\n${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  const header = [
    '# Benchmarks',
    '',
    `Measured by \`npm run bench\` in one run on ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${require('node:os').cpus().length} cores (a shared machine: compare figures within one run, not across runs). Raw figures: \`docs/benchmarks.json\`. Took ${((Date.now() - started) / 1000).toFixed(0)} s.`,
    '',
  ];
  // Figures measured by other means (the test suite's time) sit below this marker and are kept as they are.
  const file = join(root, 'docs', 'benchmarks.md');
  const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const kept = previous.includes(KEPT_MARKER) ? `\n${previous.slice(previous.indexOf(KEPT_MARKER))}` : '';
  writeFileSync(file, `${[...header, ...lines].join('\n').trimEnd()}\n${kept}`);
  writeFileSync(join(root, 'docs', 'benchmarks.json'), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${[...header, ...lines].join('\n')}\n`);
}

const BENCH_USAGE = `Usage: npm run bench

Measures every figure of docs/benchmarks.md in one run on this machine (loopback only) and writes docs/benchmarks.md
and docs/benchmarks.json. Takes minutes; run it on a quiet machine.
  -h, --help   this text`;

if (!printedHelp(BENCH_USAGE)) {
  main().catch((err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  });
}
