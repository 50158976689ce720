import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  buildIndex,
  clearIndexCache,
  createSearchDocsTool,
  defaultDocsDir,
  getIndex,
  keywordSearch,
  makeSnippet,
  splitSections,
  tokenize,
} from '../../../lambdas/tools/keyword-search';

const ctx = { runId: 'r1', step: 1, toolCallId: 'c1', idempotencyKey: 'k1' };

let dir: string;

const filler = (topic: string, n: number) => Array.from({ length: n }, (_, i) => `Sentence ${i} talks about ${topic} in general terms.`).join(' ');

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kw-docs-'));
  writeFileSync(
    path.join(dir, 'runbook.md'),
    [
      '# Runbook',
      'What to do when things go wrong in production.',
      '',
      '## Circuit breaker is open',
      'When the breaker for a dependency opens, calls are refused with CircuitOpen until the cool-down passes.',
      'Check the breaker state item and the failure window; one probe is allowed after the cool-down.',
      '',
      '## Rotating the API key',
      'Store the new key in Secrets Manager, then redeploy. The old key keeps working until you revoke it.',
      '',
      '```bash',
      '# not a heading: a comment in a fenced block about breakers',
      'aws secretsmanager put-secret-value --secret-id agent/key',
      '```',
    ].join('\n'),
  );
  writeFileSync(
    path.join(dir, 'architecture.md'),
    [
      '# Architecture',
      '',
      '## State machine',
      'The Step Functions state machine loops CallModel → RunTools → Checkpoint. Payloads carry small state only.',
      '',
      '## Budgets',
      'A step budget and a token budget stop runaway loops; the run surrenders with status UNFINISHED.',
      '',
      `## Long section\n\n${filler('throughput', 30)}\n\n${filler('latency', 30)}\n\nThe retriever fallback uses keyword search when the retriever is down.\n\n${filler('storage', 30)}`,
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'notes.md'), 'Plain notes without any heading.\n\nThe second paragraph mentions idempotency keys for tool calls.\n\nA third paragraph.');
  mkdirSync(path.join(dir, 'sub'));
  writeFileSync(path.join(dir, 'sub', 'faq.markdown'), '# FAQ\n\n## Can I pause a run?\nYes: POST /runs/{id}/pause, then resume.\n');
  mkdirSync(path.join(dir, '.hidden'));
  writeFileSync(path.join(dir, '.hidden', 'secret.md'), '# Secret\nbreaker breaker breaker breaker');
  writeFileSync(path.join(dir, 'ignored.txt'), 'breaker breaker breaker');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  clearIndexCache();
});

describe('tokenize', () => {
  test('lowercases, strips punctuation and stop words, folds plurals', () => {
    expect(tokenize("What's the Circuit-Breaker's state? Breakers, retries & café!")).toEqual(['circuit', 'breaker', 'state', 'breaker', 'retry', 'cafe']);
  });
});

describe('splitSections', () => {
  test('splits by headings, ignores # inside fenced code, falls back to paragraphs', () => {
    const sections = splitSections('intro\n# A\none\n```\n# not\n```\n## B ##\ntwo', 'x.md');
    expect(sections.map((s) => s.heading)).toEqual(['x', 'A', 'B']);
    expect(sections[1]?.text).toContain('# not');
    const paras = splitSections('p1\n\np2\n\n\np3', 'my-notes.md');
    expect(paras).toEqual([
      { heading: 'my notes', text: 'p1' },
      { heading: 'my notes', text: 'p2' },
      { heading: 'my notes', text: 'p3' },
    ]);
  });
});

describe('keywordSearch', () => {
  test('ranks the right section first', () => {
    const hits = keywordSearch('what happens when the circuit breaker is open?', { docsDir: dir });
    expect(hits[0]).toMatchObject({ file: 'runbook.md', heading: 'Circuit breaker is open' });
    expect(hits[0]?.snippet).toContain('CircuitOpen');
    expect(hits.length).toBeLessThanOrEqual(3);
  });

  test.each([
    ['rotate api key secrets manager', 'runbook.md', 'Rotating the API key'],
    ['token budget surrender', 'architecture.md', 'Budgets'],
    ['step functions state machine payload', 'architecture.md', 'State machine'],
    ['idempotency keys', 'notes.md', 'notes'],
    ['pause a run', 'sub/faq.markdown', 'Can I pause a run?'],
    ['retriever fallback keyword', 'architecture.md', 'Long section'],
  ])('%j → %s / %s', (query, file, heading) => {
    const [top] = keywordSearch(query, { docsDir: dir });
    expect(top).toMatchObject({ file, heading });
  });

  test('skips dot-folders and non-markdown files', () => {
    const files = new Set(getIndex(dir).sections.map((s) => s.file));
    expect([...files].sort()).toEqual(['architecture.md', 'notes.md', 'runbook.md', 'sub/faq.markdown']);
  });

  test('snippets are at most 400 characters and show the matching part of a long section', () => {
    const hits = keywordSearch('retriever fallback', { docsDir: dir, k: 1 });
    expect(hits[0]?.snippet.length).toBeLessThanOrEqual(400);
    expect(hits[0]?.snippet).toContain('retriever fallback');
    for (const h of keywordSearch('sentence general terms throughput latency storage', { docsDir: dir, k: 10 })) {
      expect(h.snippet.length).toBeLessThanOrEqual(400);
    }
  });

  test('k limits the hits; nothing matches → empty; stop words only → empty', () => {
    expect(keywordSearch('breaker key budget state', { docsDir: dir, k: 1 })).toHaveLength(1);
    expect(keywordSearch('zyzzyva', { docsDir: dir })).toEqual([]);
    expect(keywordSearch('the of and', { docsDir: dir })).toEqual([]);
  });

  test('ties are ordered deterministically (file, then position)', () => {
    const tieDir = mkdtempSync(path.join(tmpdir(), 'kw-tie-'));
    try {
      writeFileSync(path.join(tieDir, 'b.md'), '# One\nalpha beta\n# Two\nalpha beta');
      writeFileSync(path.join(tieDir, 'a.md'), '# One\nalpha beta');
      const hits = keywordSearch('alpha', { docsDir: tieDir, k: 3 });
      expect(hits.map((h) => `${h.file}#${h.heading}`)).toEqual(['a.md#One', 'b.md#One', 'b.md#Two']);
      expect(new Set(hits.map((h) => h.score)).size).toBe(1);
    } finally {
      rmSync(tieDir, { recursive: true, force: true });
    }
  });

  test('the index is built once per directory and cached', () => {
    clearIndexCache();
    const first = getIndex(dir);
    expect(getIndex(dir)).toBe(first);
    expect(getIndex(`${dir}/./`)).toBe(first);
    clearIndexCache();
    expect(getIndex(dir)).not.toBe(first);
  });

  test('a missing directory gives no hits (and is not cached)', () => {
    const missing = path.join(dir, 'nope');
    expect(keywordSearch('breaker', { docsDir: missing })).toEqual([]);
    expect(buildIndex(missing).sections).toEqual([]);
  });

  test('defaultDocsDir honours DOCS_DIR, else the repo docs/', () => {
    const saved = process.env.DOCS_DIR;
    try {
      process.env.DOCS_DIR = dir;
      expect(defaultDocsDir()).toBe(dir);
      delete process.env.DOCS_DIR;
      expect(defaultDocsDir()).toBe(path.resolve(__dirname, '../../../docs'));
    } finally {
      if (saved === undefined) delete process.env.DOCS_DIR;
      else process.env.DOCS_DIR = saved;
    }
  });
});

describe('makeSnippet', () => {
  test('short text is returned whole; long text is windowed with ellipses', () => {
    expect(makeSnippet('short `text`', new Set(['text']))).toBe('short text');
    const long = `${'lorem ipsum '.repeat(100)}needle here ${'dolor sit '.repeat(100)}`;
    const snippet = makeSnippet(long, new Set(['needle']));
    expect(snippet.length).toBeLessThanOrEqual(400);
    expect(snippet).toContain('needle');
    expect(snippet.startsWith('…')).toBe(true);
    expect(snippet.endsWith('…')).toBe(true);
  });
});

describe('search_docs tool', () => {
  // Built lazily: `dir` is only set in beforeAll.
  const tool = { run: (args: unknown, c: typeof ctx) => createSearchDocsTool(dir).run(args, c) };

  test('returns numbered hits for the model and the hits as data', async () => {
    const result = await tool.run({ query: 'circuit breaker open' }, ctx);
    expect(result.isError).toBeUndefined();
    expect(result.content).toMatch(/^\[1\] runbook\.md — Circuit breaker is open/);
    expect((result.data as { hits: unknown[] }).hits.length).toBeGreaterThan(0);
  });

  test('no hits', async () => {
    expect((await tool.run({ query: 'zyzzyva' }, ctx)).content).toBe('No matching documents.');
  });

  test('bad arguments → isError saying what is allowed', async () => {
    for (const args of [{}, { query: '' }, { query: 3 }, { query: 'x', k: 99 }, undefined]) {
      const result = await tool.run(args, ctx);
      expect(result.isError).toBe(true);
      expect(result.content).toMatch(/invalid arguments for search_docs: .*Allowed: \{"query": string/);
    }
  });
});
