import { randomUUID } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { CHECKPOINT_VERSION } from '../core/checkpoint';
import type { ContextView } from '../core/context';
import type { ApiRunRepository, ApprovalEntry, NewRunRecord, RunRecord, StoredMessage } from '../core/ports';
import { parseTraceEvent } from '../core/trace';
import { resolveTrace } from '../core/trace-refs';
import type { DegradedEntry, RunStatus, StopReason, TraceEvent, TraceEventDraft, Usage } from '../core/types';
import { ConversationCache } from './conversation-cache';
import {
  ACTIVE_IN,
  ACTIVE_VALUES,
  clampEvent,
  clampMessage,
  clampText,
  type FinalResult,
  isConditionFailure,
  MAX_ANSWER_BYTES,
  MAX_INPUT_BYTES,
  type RunCondition,
  runConditionExpression,
  type StoredItem,
  storedMessageOf,
  stripKeys,
} from './items';
import { decodeCursor, EVENT_PREFIX, encodeCursor, eventSk, MESSAGE_PREFIX, messageSk, RUN_SK, runPk, USER_INDEX } from './keys';
import { claimKey, queryRunItems, releaseKey } from './run-items';

export { clampText, MAX_ANSWER_BYTES, MAX_INPUT_BYTES, MAX_TEXT_BYTES, type RunCondition } from './items';
export type { RunRecord, StoredMessage };

/** Runs, messages and trace events in the agent table. All writes are single-item and conditional where it matters. */
export class RunStore implements ApiRunRepository {
  private seq = 0;
  private readonly writer = randomUUID().slice(0, 8);

  private readonly now: () => Date;
  private readonly onEvent?: (runId: string, event: TraceEvent) => void;
  /** The conversations this container has read, per run: a later read fetches only the messages after them. */
  private readonly conversations = new ConversationCache();

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    options: { now?: () => Date; onEvent?: (runId: string, event: TraceEvent) => void } = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.onEvent = options.onEvent;
  }

  /** Creates the run and its first message; returns the existing run when it is already there (idempotent). */
  async createRun(input: NewRunRecord): Promise<{ run: RunRecord; created: boolean }> {
    const at = this.now().toISOString();
    const run: RunRecord = {
      runId: input.runId,
      userId: input.userId,
      input: clampText(input.input, MAX_INPUT_BYTES),
      status: 'RUNNING',
      step: 0,
      tokensIn: 0,
      tokensOut: 0,
      maxSteps: input.maxSteps,
      maxTokens: input.maxTokens,
      ...(input.maxCostUsd !== undefined ? { maxCostUsd: input.maxCostUsd } : {}),
      ...(input.outputSchema ? { outputSchema: input.outputSchema } : {}),
      costMicros: 0,
      ...(input.threadId !== undefined ? { threadId: input.threadId, history: input.history ?? [] } : {}),
      stopReason: null,
      answer: null,
      degraded: [],
      lastCallSig: '',
      checkpointVersion: CHECKPOINT_VERSION,
      createdAt: at,
      updatedAt: at,
    };
    // The first message goes first: a process that dies between the two writes leaves a message no one reads, and
    // the run's write (the next request with its Idempotency-Key makes it, lambdas/core/start-run.ts) finds it there.
    await this.putMessage(run.runId, { step: 0, seq: 0, message: { role: 'user', content: run.input }, at });
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: runPk(run.runId), sk: RUN_SK, ...run },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const existing = await this.getRun(input.runId);
      if (!existing) throw err;
      return { run: existing, created: false };
    }
    return { run, created: true };
  }

  /** The run as it is now (after a conditional write found it already moved on). */
  private async mustGetRun(runId: string): Promise<RunRecord> {
    const run = await this.getRun(runId);
    if (!run) throw new Error(`run ${runId} does not exist`);
    return run;
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { pk: runPk(runId), sk: RUN_SK }, ConsistentRead: true }));
    if (!out.Item) return undefined;
    const { pk: _pk, sk: _sk, ...rest } = out.Item;
    return rest as RunRecord;
  }

  /**
   * Writes a message once; a second write of the same (step, seq) is a no-op that returns the stored one. `event`
   * (the trace event of the call that produced the message, referencing it) goes in the same item: one write for
   * both. When the message was already there, the event is appended on its own (the trace shows every call).
   */
  async putMessage(runId: string, m: StoredMessage, event?: TraceEventDraft): Promise<{ written: boolean; stored: StoredMessage }> {
    const full = event ? clampEvent({ ...event, at: event.at ?? this.now().toISOString() }) : undefined;
    const item: StoredMessage = { ...m, message: clampMessage(m.message), ...(full ? { event: full } : {}) };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: runPk(runId), sk: messageSk(m.step, m.seq), ...item },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      // Listeners (the CLI's progress, metrics) get the event with the content of its own message resolved.
      if (full) this.onEvent?.(runId, resolveTrace([], [item])[0] ?? full);
      return { written: true, stored: item };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const existing = await this.getMessage(runId, m.step, m.seq);
      if (!existing) throw err;
      if (event) await this.appendEvent(runId, event);
      return { written: false, stored: existing };
    }
  }

  async getMessage(runId: string, step: number, seq: number): Promise<StoredMessage | undefined> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: runPk(runId), sk: messageSk(step, seq) },
        ConsistentRead: true,
      }),
    );
    return out.Item ? storedMessageOf(stripKeys<StoredItem>(out.Item)) : undefined;
  }

  /**
   * The conversation in order. Messages are written once and never changed, so the part this container has read
   * is kept and only the messages after it are read (lambdas/store/conversation-cache.ts says when the kept part
   * is trusted; otherwise the whole conversation is read again).
   */
  async listMessages(runId: string): Promise<StoredMessage[]> {
    const known = this.conversations.get(runId);
    if (known.length > 0) {
      const last = known[known.length - 1] as StoredMessage;
      const after = (await this.queryPrefix<StoredItem>(runId, MESSAGE_PREFIX, messageSk(last.step, last.seq))).map(storedMessageOf);
      const merged = this.conversations.extend(runId, known, after);
      if (merged) return merged;
    }
    const all = (await this.queryPrefix<StoredItem>(runId, MESSAGE_PREFIX)).map(storedMessageOf);
    this.conversations.set(runId, all);
    return all;
  }

  /**
   * Records a finished model step: sets the step counter and adds the usage exactly once per step (the condition
   * makes a retried or replayed call a no-op). Returns the run after the update.
   */
  async recordModelStep(runId: string, step: number, usage: Usage, callSig: string, costMicros = 0): Promise<RunRecord> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(runId), sk: RUN_SK },
          // Checkpoint format 2: the previous signature moves to prevCallSig (operands read the item before the update).
          UpdateExpression:
            'SET #step = :step, prevCallSig = if_not_exists(lastCallSig, :none), lastCallSig = :sig, sigStep = :step, checkpointVersion = :format, updatedAt = :at ADD tokensIn :in, tokensOut :out, costMicros :cost',
          ConditionExpression: 'attribute_exists(pk) AND #step < :step',
          ExpressionAttributeNames: { '#step': 'step' },
          ExpressionAttributeValues: {
            ':step': step,
            ':sig': callSig,
            ':none': '',
            ':format': CHECKPOINT_VERSION,
            ':at': this.now().toISOString(),
            ':in': usage.inputTokens,
            ':out': usage.outputTokens,
            ':cost': costMicros,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return stripKeys<RunRecord>(out.Attributes ?? {});
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      return this.mustGetRun(runId);
    }
  }

  /** Adds a degradation entry (once per dependency+fallback). */
  async addDegraded(runId: string, entry: DegradedEntry): Promise<void> {
    const run = await this.getRun(runId);
    if (!run) return;
    if (run.degraded.some((d) => d.dependency === entry.dependency && d.fallback === entry.fallback)) return;
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: runPk(runId), sk: RUN_SK },
        UpdateExpression: 'SET degraded = list_append(if_not_exists(degraded, :empty), :entry), updatedAt = :at',
        ExpressionAttributeValues: { ':entry': [entry], ':empty': [], ':at': this.now().toISOString() },
      }),
    );
  }

  /** Stores the run's compacted context view (lambdas/core/context.ts); it only ever grows, so a plain SET is safe. */
  async saveContextView(runId: string, view: ContextView): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: runPk(runId), sk: RUN_SK },
        UpdateExpression: 'SET contextView = :view, updatedAt = :at',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':view': view, ':at': this.now().toISOString() },
      }),
    );
  }

  /** Moves a run to a terminal status once; finalizing an already-final run is a no-op that returns it. */
  async finalizeRun(runId: string, result: FinalResult, options: { expiringApprovals?: boolean } = {}): Promise<RunRecord> {
    const done = options.expiringApprovals ? await this.expireApprovals(runId, result) : await this.finalizeIfActive(runId, result);
    return done ?? this.mustGetRun(runId);
  }

  /**
   * The approval timeout's ending: conditional on the run AWAITING_APPROVAL with some call of its step undecided, so
   * that it and the last decision (conditional on AWAITING_APPROVAL too) cannot both win.
   */
  private async expireApprovals(runId: string, result: FinalResult): Promise<RunRecord | undefined> {
    const run = await this.getRun(runId);
    const calls = Object.values(run?.approvals ?? {}).filter((e) => e.step === run?.approvalStep);
    if (run?.status !== 'AWAITING_APPROVAL' || calls.length === 0) return undefined;
    const names = Object.fromEntries(calls.map((c, i) => [`#c${i}`, c.toolCallId]));
    const undecided = calls.map((_, i) => `attribute_not_exists(approvals.#c${i}.decision)`).join(' OR ');
    return this.finalWrite(runId, result, `#status = :awaiting AND approvalStep = :step AND (${undecided})`, names, {
      ':awaiting': 'AWAITING_APPROVAL',
      ':step': run.approvalStep,
    });
  }

  /**
   * Moves a run still under way to a terminal status: one conditional write, so of concurrent callers exactly one
   * gets the run after it; the others (and any caller once the run is final) get undefined.
   */
  async finalizeIfActive(runId: string, result: FinalResult): Promise<RunRecord | undefined> {
    return this.finalWrite(runId, result, `attribute_exists(pk) AND #status IN (${ACTIVE_IN})`, {}, ACTIVE_VALUES);
  }

  /** The terminal write of a run (status, answer, stop reason, structured output), under `condition`. */
  private finalWrite(runId: string, result: FinalResult, condition: string, names: Record<string, string>, values: Record<string, unknown>): Promise<RunRecord | undefined> {
    const withOutput = result.output !== undefined;
    const spent = result.usage ? { ':in': result.usage.inputTokens, ':out': result.usage.outputTokens, ':cost': result.costMicros ?? 0 } : undefined;
    return this.updateRunIf(runId, {
      UpdateExpression: `SET #status = :status, answer = :answer, stopReason = :reason, updatedAt = :at${withOutput ? ', #output = :output' : ''} REMOVE taskToken${spent ? ' ADD tokensIn :in, tokensOut :out, costMicros :cost' : ''}`,
      ConditionExpression: condition,
      ExpressionAttributeNames: { '#status': 'status', ...(withOutput ? { '#output': 'output' } : {}), ...names },
      ExpressionAttributeValues: {
        ...(withOutput ? { ':output': result.output } : {}),
        ...spent,
        ':status': result.status,
        ':answer': clampText(result.answer, MAX_ANSWER_BYTES),
        ':reason': result.stopReason,
        ':at': this.now().toISOString(),
        ...values,
      },
    });
  }

  /** Appends a trace event. Events are ordered by their timestamp, then by writer and sequence. */
  async appendEvent(runId: string, event: TraceEventDraft): Promise<TraceEvent> {
    const at = event.at ?? this.now().toISOString();
    const full: TraceEvent = { ...event, at };
    const suffix = `${String(++this.seq).padStart(6, '0')}#${this.writer}`;
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: runPk(runId), sk: eventSk(at, suffix), ...clampEvent(full) },
      }),
    );
    this.onEvent?.(runId, full);
    return full;
  }

  /**
   * The run's trace in order, as the API, the viewer, the replay and the export read it: the stored events and the
   * events kept in message items, their message references resolved (lambdas/core/trace-refs.ts).
   */
  async listEvents(runId: string): Promise<TraceEvent[]> {
    const [items, stored] = await Promise.all([this.queryPrefix<Record<string, unknown>>(runId, EVENT_PREFIX), this.queryPrefix<StoredItem>(runId, MESSAGE_PREFIX)]);
    // The store boundary: items read back are parsed into the closed union (a kind this version does not write is
    // kept as an `unrecognized` event, never cast into a known one).
    return resolveTrace(items.map(parseTraceEvent), stored.map(storedMessageOf));
  }

  /** A user's runs, newest first. `cursor` is opaque to callers. */
  async listRunsByUser(userId: string, options: { limit?: number; cursor?: string } = {}): Promise<{ runs: RunRecord[]; nextCursor: string | null }> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: USER_INDEX,
        KeyConditionExpression: 'userId = :u',
        ExpressionAttributeValues: { ':u': userId },
        ScanIndexForward: false,
        Limit: options.limit ?? 20,
        ExclusiveStartKey: options.cursor ? decodeCursor(options.cursor) : undefined,
      }),
    );
    return {
      runs: (out.Items ?? []).map((i) => stripKeys<RunRecord>(i)),
      nextCursor: out.LastEvaluatedKey ? encodeCursor(out.LastEvaluatedKey) : null,
    };
  }

  /**
   * Claims an Idempotency-Key of a user for a new run: returns the runId already bound to the key, or binds
   * `runId` to it (one conditional write) and returns it.
   */
  claimIdempotencyKey(userId: string, key: string, runId: string, fingerprint?: string): Promise<{ runId: string; claimed: boolean; fingerprint?: string }> {
    return claimKey(this.doc, this.tableName, { userId, key, runId, at: this.now().toISOString(), fingerprint });
  }

  /** Releases a claimed Idempotency-Key (its run could not be started), only while it still names that run. */
  releaseIdempotencyKey(userId: string, key: string, runId: string): Promise<void> {
    return releaseKey(this.doc, this.tableName, { userId, key, runId });
  }

  /** Runs in one of the given statuses (the offline engine resumes RUNNING runs after a crash). */
  async listRunsByStatus(statuses: RunStatus[]): Promise<RunRecord[]> {
    const out: RunRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: `sk = :meta AND #status IN (${statuses.map((_, i) => `:s${i}`).join(', ')})`,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':meta': RUN_SK, ...Object.fromEntries(statuses.map((s, i) => [`:s${i}`, s])) },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) out.push(stripKeys<RunRecord>(item));
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /** Sets fields on the run item (status changes of pause/resume/cancel, task tokens). */
  async updateRun(
    runId: string,
    fields: Partial<Pick<RunRecord, 'status' | 'pauseRequested' | 'taskToken' | 'executionArn' | 'answer' | 'stopReason' | 'resumes'>>,
    condition?: RunCondition,
  ): Promise<RunRecord | undefined> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':at': this.now().toISOString() };
    const sets = ['updatedAt = :at'];
    for (const [k, v] of Object.entries(fields)) {
      names[`#${k}`] = k;
      values[`:${k}`] = k === 'answer' && typeof v === 'string' ? clampText(v, MAX_ANSWER_BYTES) : v;
      sets.push(`#${k} = :${k}`);
    }
    const conditionExpression = runConditionExpression(condition, names, values);
    return this.updateRunIf(runId, {
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: conditionExpression,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  }

  /** One conditional update of the run item: the run after it, or undefined when the condition did not hold. */
  private async updateRunIf(
    runId: string,
    update: Pick<UpdateCommandInput, 'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'>,
  ): Promise<RunRecord | undefined> {
    try {
      const out = await this.doc.send(new UpdateCommand({ TableName: this.tableName, Key: { pk: runPk(runId), sk: RUN_SK }, ...update, ReturnValues: 'ALL_NEW' }));
      return stripKeys<RunRecord>(out.Attributes ?? {});
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw err;
    }
  }

  /**
   * Closes a live run (RUNNING or PAUSED) for the execution that ended: conditional on the run still being live and
   * on no other execution having taken it over (its executionArn, when set, is this one). changed=false otherwise.
   */
  async closeExecution(runId: string, result: { status: RunStatus; answer: string; stopReason: StopReason }, executionArn: string): Promise<{ run?: RunRecord; changed: boolean }> {
    const condition = `attribute_exists(pk) AND #status IN (${ACTIVE_IN}) AND (attribute_not_exists(executionArn) OR executionArn = :arn)`;
    const run = await this.finalWrite(runId, result, condition, {}, { ...ACTIVE_VALUES, ':arn': executionArn });
    return run ? { run, changed: true } : { run: await this.getRun(runId), changed: false };
  }

  /**
   * The AwaitApproval state: a RUNNING run becomes AWAITING_APPROVAL with the step's approval-required calls and the
   * task token the execution waits on (undefined when the run is no longer RUNNING, e.g. cancelled meanwhile).
   */
  async requestApprovals(runId: string, step: number, approvals: Record<string, ApprovalEntry>, taskToken: string): Promise<RunRecord | undefined> {
    return this.updateRunIf(runId, {
      UpdateExpression: 'SET #status = :awaiting, approvals = :approvals, approvalStep = :step, taskToken = :token, updatedAt = :at',
      ConditionExpression: 'attribute_exists(pk) AND #status = :running',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':awaiting': 'AWAITING_APPROVAL',
        ':running': 'RUNNING',
        ':approvals': approvals,
        ':step': step,
        ':token': taskToken,
        ':at': this.now().toISOString(),
      },
    });
  }

  /**
   * Records one decision, once: conditional on the run still AWAITING_APPROVAL and the call waiting with no decision
   * (one single-item write, so two deciders of the same call cannot both win). Returns the run after the write, or
   * undefined when the call was not waiting.
   */
  async recordDecision(
    runId: string,
    toolCallId: string,
    d: { decision: 'approve' | 'reject'; reason: string | null; decidedBy: string; decidedAt: string },
  ): Promise<RunRecord | undefined> {
    return this.updateRunIf(runId, {
      UpdateExpression: 'SET approvals.#call.decision = :d, approvals.#call.reason = :r, approvals.#call.decidedBy = :by, approvals.#call.decidedAt = :at, updatedAt = :at',
      // Only before the call's expiresAt (ISO instants of one format compare as strings).
      ConditionExpression:
        'attribute_exists(pk) AND #status = :awaiting AND attribute_exists(approvals.#call) AND attribute_not_exists(approvals.#call.decision) AND approvals.#call.expiresAt > :at',
      ExpressionAttributeNames: { '#status': 'status', '#call': toolCallId },
      ExpressionAttributeValues: { ':awaiting': 'AWAITING_APPROVAL', ':d': d.decision, ':r': d.reason, ':by': d.decidedBy, ':at': d.decidedAt },
    });
  }

  /** The items of a run under a prefix, in key order; after `afterSk` only (exclusive) when given. */
  private queryPrefix<T>(runId: string, prefix: string, afterSk?: string): Promise<T[]> {
    return queryRunItems<T>(this.doc, this.tableName, runId, prefix, afterSk);
  }
}
