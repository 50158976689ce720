import { BadRequest } from './errors';
import type { RunRecord } from './ports';

/**
 * The checkpoint format: what LoadRun reads to rebuild the loop state (the run item and the messages of its last
 * steps). A run may be resumed by a newer deploy than the one that wrote its checkpoint (a paused run waits up to a
 * week), so every reader keeps reading every older format, and a change of format bumps this number.
 *
 * - 1 (no `checkpointVersion` on the run item): the repetition signature of the step before the last is
 *   recomputed from that step's assistant message.
 * - 2: the run item carries it (`prevCallSig`, valid for `sigStep`), written with the step counter; the item says
 *   `checkpointVersion: 2`.
 */
export const CHECKPOINT_VERSION = 2;

/** The format a run's checkpoint was written in; a format newer than this code reads is refused (roll forward). */
export function checkpointFormat(run: Pick<RunRecord, 'runId' | 'checkpointVersion'>): number {
  const format = run.checkpointVersion ?? 1;
  if (!Number.isInteger(format) || format < 1 || format > CHECKPOINT_VERSION) {
    throw new BadRequest(
      `run ${run.runId} has checkpoint format ${String(run.checkpointVersion)}; this version reads formats 1 to ${CHECKPOINT_VERSION}: resume it on the version that wrote it (npm run rollback -- --to <version>)`,
    );
  }
  return format;
}

/**
 * The previous step's call signature as the run item stores it (format 2), or undefined when it has to be
 * recomputed from the messages: format 1, or an item whose step moved on without it (written by older code after a
 * rollback).
 */
export function storedPrevCallSig(run: Pick<RunRecord, 'runId' | 'step' | 'checkpointVersion' | 'prevCallSig' | 'sigStep'>): string | undefined {
  if (checkpointFormat(run) < 2 || run.sigStep !== run.step || typeof run.prevCallSig !== 'string') return undefined;
  return run.prevCallSig;
}
