import type { RunView } from '../../lambdas/core/types';
import { apiTarget, callApi } from './client';
import { type CliCommand, UsageError } from './common';
import { runLine } from './remote';

const print = (value: unknown) => process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value)}\n`);
const SUBCOMMANDS = 'stop [--user <id>] | disable | enable | spend | runs [--user <id>] [--status <s>] [--from <date>] [--to <date>] [--cursor <c>] | reads';

interface SpendView {
  day: string;
  totalUsd: number;
  calls: number;
  users: { userId: string; costUsd: number; calls: number; overCap?: boolean }[];
  caps: { dailyUsdPerUser: number | null; dailyUsdTotal: number | null };
  disabled: boolean;
}

/**
 * `agent admin …`: the kill switch, today's spend and support access, through the API (admins only: locally
 * `--token <a token in adminTokens>`, in AWS a Cognito token of a member of agent-admins).
 */
export const adminCommand: CliCommand = {
  usage: `admin <${SUBCOMMANDS.split(' | ')
    .map((s) => s.split(' ')[0])
    .join('|')}>  kill switch, spend, any user's runs (admins; --token <admin token>)`,
  async run({ positionals, values }) {
    const target = apiTarget(values);
    const [sub] = positionals;
    const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
    switch (sub) {
      case 'stop': {
        const user = str('user');
        const out = await callApi<{ stopped: number; runIds: string[] }>(target, 'POST', '/admin/stop', user ? { userId: user } : {});
        print(
          values.json
            ? out
            : `stopped ${out.stopped} run${out.stopped === 1 ? '' : 's'} (${user ? `user ${user}` : 'all users'}): CANCELLED / KILLED${out.runIds.length ? `\n${out.runIds.join('\n')}` : ''}`,
        );
        return 0;
      }
      case 'disable':
      case 'enable': {
        const out = await callApi<{ disabled: boolean }>(target, 'POST', `/admin/${sub}`, {});
        print(values.json ? out : out.disabled ? 'new runs are disabled (503 DISABLED) until "agent admin enable"' : 'new runs are enabled');
        return 0;
      }
      case 'spend': {
        const out = await callApi<SpendView>(target, 'GET', '/admin/spend');
        if (values.json) print(out);
        else {
          const cap = (v: number | null) => (v === null ? 'no cap' : `cap $${v}`);
          print(`${out.day} (UTC): $${out.totalUsd.toFixed(4)} in ${out.calls} model calls (${cap(out.caps.dailyUsdTotal)})${out.disabled ? '  [new runs DISABLED]' : ''}`);
          for (const u of out.users) print(`  ${u.userId.padEnd(24)} $${u.costUsd.toFixed(4)}  ${String(u.calls).padStart(5)} calls${u.overCap ? '  over the per-user cap' : ''}`);
          if (!out.users.length) print('  (no spend today)');
        }
        return 0;
      }
      case 'runs': {
        const query = new URLSearchParams();
        for (const [k, q] of [
          ['user', 'userId'],
          ['status', 'status'],
          ['from', 'from'],
          ['to', 'to'],
          ['cursor', 'cursor'],
        ] as const) {
          const v = str(k);
          if (v) query.set(q, v);
        }
        const qs = query.toString();
        const out = await callApi<{ runs: (RunView & { userId: string })[]; nextCursor: string | null }>(target, 'GET', `/admin/runs${qs ? `?${qs}` : ''}`);
        if (values.json) print(out);
        else {
          print(out.runs.map((r) => `${r.userId.padEnd(20)} ${runLine(r)}`).join('\n') || '(no runs)');
          if (out.nextCursor) print(`more: --cursor ${out.nextCursor}`);
        }
        return 0;
      }
      case 'reads': {
        const out = await callApi<{ day: string; reads: { at: string; adminId: string; runId: string; owner: string; what: string }[] }>(target, 'GET', '/admin/reads');
        print(values.json ? out : out.reads.map((r) => `${r.at}  ${r.adminId} read ${r.what} of ${r.runId} (user ${r.owner})`).join('\n') || '(no admin reads today)');
        return 0;
      }
      default:
        throw new UsageError(`agent admin needs one of: ${SUBCOMMANDS}`);
    }
  },
};
