/** Key layout of the one agent table (DESIGN §5). */

const pad = (n: number, width: number) => String(n).padStart(width, '0');

export const runPk = (runId: string) => `RUN#${runId}`;
export const RUN_SK = 'META';
/** Messages sort by step then sequence within the step (0 = assistant, 1.. = tool results in call order). */
export const messageSk = (step: number, seq: number) => `MSG#${pad(step, 5)}#${pad(seq, 3)}`;
export const MESSAGE_PREFIX = 'MSG#';
/** Trace events sort by time, then a per-writer sequence that keeps same-millisecond events apart. */
export const eventSk = (at: string, suffix: string) => `EVT#${at}#${suffix}`;
export const EVENT_PREFIX = 'EVT#';
export const USER_INDEX = 'byUser';
