import type { CfnTemplate } from './template';
import { resolveIntrinsic } from './template';

/** An EventBridge event, as the default bus delivers it to a rule's Lambda target. */
export interface BusEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

/** A rule of the template: its event pattern and the ARNs of its targets. */
export interface LocalRule {
  logicalId: string;
  pattern: Record<string, unknown>;
  targets: string[];
}

/** The template's enabled EventBridge rules on the default bus, with their tokens resolved to local names. */
export function rulesOf(template: CfnTemplate): LocalRule[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Events::Rule')
    .map(([logicalId, r]) => {
      const props = (resolveIntrinsic(r.Properties ?? {}, template) ?? {}) as { EventPattern?: Record<string, unknown>; State?: string; Targets?: { Arn: string }[] };
      return {
        logicalId,
        pattern: props.State === 'DISABLED' ? {} : (props.EventPattern ?? {}),
        targets: props.State === 'DISABLED' ? [] : (props.Targets ?? []).map((t) => String(t.Arn)),
      };
    })
    .filter((r) => Object.keys(r.pattern).length > 0);
}

/**
 * EventBridge pattern matching for the forms the stack uses: each pattern field is an array of allowed values
 * (exact match; `{prefix}` and `{exists}` too) or a nested pattern for an object field; every field must match.
 */
export function matchesPattern(pattern: Record<string, unknown>, event: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([key, want]) => {
    const value = event[key];
    if (Array.isArray(want)) {
      const values = Array.isArray(value) ? value : [value];
      return want.some((w) => {
        if (w !== null && typeof w === 'object') {
          const rule = w as { prefix?: string; exists?: boolean };
          if (rule.prefix !== undefined) return values.some((v) => typeof v === 'string' && v.startsWith(rule.prefix as string));
          if (rule.exists !== undefined) return (value !== undefined) === rule.exists;
          return false;
        }
        return values.some((v) => v === w);
      });
    }
    if (want !== null && typeof want === 'object') {
      return value !== null && typeof value === 'object' && matchesPattern(want as Record<string, unknown>, value as Record<string, unknown>);
    }
    return false;
  });
}
