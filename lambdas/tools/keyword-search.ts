/**
 * The `search_docs` built-in and the retriever's fallback: keyword search over a directory of markdown files. The
 * index and its scoring (BM25+, term and field weights) are MiniSearch's; this module keeps what is particular to
 * the docs: the Markdown splitter, the term processing and the snippets.
 *
 * - Files: every `*.md` / `*.markdown` under the directory (recursively, sorted, dot-folders and node_modules
 *   skipped). In Lambda the docs are bundled next to the handler, so the directory is always a parameter;
 *   {@link defaultDocsDir} gives `DOCS_DIR` or the repo's `docs/`.
 * - Sections: split at ATX headings (`#` … `######`, outside fenced code blocks); text before the first heading is
 *   a section headed by the file's title. A file without headings is split into paragraphs. Long sections are cut
 *   into paragraph-aligned chunks of about {@link CHUNK_CHARS} characters under the same heading.
 * - Terms: lowercase, accents and punctuation stripped, common English stop words dropped, plural `s` folded (given
 *   to MiniSearch as its `tokenize` and `processTerm`, its documented hooks for this; it ships no stop-word list
 *   and no stemmer). A heading term weighs twice a body term (a field boost).
 * - Score: MiniSearch's BM25+ over the heading and text fields. Ties are ordered by file path, then position in
 *   the file.
 * - The index is built once per process and cached per (resolved) directory.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import MiniSearch from 'minisearch';
import * as z from '../core/validation';
import { argumentsSchema, errorToResult, invalidArgumentsResult, type Tool, type ToolResult, truncateUtf8 } from './types';

/** One search hit. `file` is relative to the docs directory, with forward slashes. */
export interface KeywordHit {
  file: string;
  heading: string;
  /** At most {@link SNIPPET_CHARS} characters, whitespace collapsed, centred on the query terms. */
  snippet: string;
  score: number;
}

export interface SearchOptions {
  /** Directory of markdown files (default {@link defaultDocsDir}). */
  docsDir?: string;
  /** How many hits (default 3). */
  k?: number;
}

interface Section {
  file: string;
  heading: string;
  /** Position in the corpus (files sorted, sections in file order): its id in the index and the tie-breaker. */
  order: number;
  text: string;
}

export interface KeywordIndex {
  dir: string;
  sections: Section[];
  search: MiniSearch<Section>;
}

export const SNIPPET_CHARS = 400;
export const DEFAULT_K = 3;
export const MAX_K = 10;
/** Target size of a chunk when a section is long. */
const CHUNK_CHARS = 1500;
/** A heading term weighs as much as two body terms. */
const HEADING_BOOST = 2;

export const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    'a about above after again against all am an and any are aren as at be because been before being below between ' +
    'both but by can cannot could couldn did didn do does doesn doing don down during each few for from further ' +
    'had hadn has hasn have haven having he her here hers herself him himself his how i if in into is isn it its ' +
    'itself just let me more most mustn my myself no nor not now of off on once only or other ought our ours ' +
    'ourselves out over own same shan she should shouldn so some such than that the their theirs them themselves ' +
    'then there these they this those through to too under until up very was wasn we were weren what when where ' +
    'which while who whom why will with won would wouldn you your yours yourself yourselves ll re ve s t d m'
  ).split(' '),
);

/** The docs directory: `DOCS_DIR`, else the repo's `docs/` (two levels above this file). */
export function defaultDocsDir(): string {
  return process.env.DOCS_DIR ?? path.resolve(__dirname, '../../docs');
}

/** Folds a plural-ish suffix so "breakers" matches "breaker" and "retries" matches "retry". */
function stem(token: string): string {
  if (token.length > 4 && token.endsWith('ies')) return `${token.slice(0, -3)}y`;
  if (token.length > 3 && token.endsWith('s') && !/(ss|us|is)$/.test(token)) return token.slice(0, -1);
  return token;
}

/** Lowercased words with accents stripped, split at anything that is not a letter or a digit. */
function words(text: string): string[] {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u);
}

/** One word → its term, or null for an empty word or a stop word (MiniSearch's `processTerm`). */
function processTerm(word: string): string | null {
  return word.length === 0 || STOP_WORDS.has(word) ? null : stem(word);
}

/** Lowercases, strips accents and punctuation, drops stop words; returns the terms in order. */
export function tokenize(text: string): string[] {
  return words(text).flatMap((w) => processTerm(w) ?? []);
}

function newSearch(): MiniSearch<Section> {
  return new MiniSearch<Section>({
    idField: 'order',
    fields: ['heading', 'text'],
    tokenize: words,
    processTerm,
    searchOptions: { boost: { heading: HEADING_BOOST } },
  });
}

function listMarkdown(dir: string, rel = ''): string[] {
  const entries = readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    const relPath = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      files.push(...listMarkdown(dir, relPath));
    } else if (entry.isFile() && /\.(md|markdown)$/i.test(entry.name)) {
      files.push(relPath);
    }
  }
  return files;
}

function titleFromFile(file: string): string {
  const base = path.basename(file).replace(/\.(md|markdown)$/i, '');
  return base.replace(/[-_]+/g, ' ').trim() || base;
}

/** Cleans a heading line: "## 3. The `state` machine ##" → "3. The state machine". */
function cleanHeading(text: string): string {
  return text
    .replace(/\s+#+\s*$/, '')
    .replace(/[`*_]/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim();
}

/** Splits text into paragraph-aligned chunks of about CHUNK_CHARS characters. */
function chunk(text: string): string[] {
  if (text.length <= CHUNK_CHARS * 1.5) return [text];
  const paragraphs = text.split(/\n\s*\n/);
  const chunks: string[] = [];
  let current = '';
  for (const p of paragraphs) {
    if (current && current.length + p.length > CHUNK_CHARS) {
      chunks.push(current);
      current = '';
    }
    current = current ? `${current}\n\n${p}` : p;
  }
  if (current) chunks.push(current);
  return chunks;
}

/** Splits one markdown file into {heading, text} sections. */
export function splitSections(markdown: string, file: string): Array<{ heading: string; text: string }> {
  const lines = markdown.replace(/\r\n?/g, '\n').split('\n');
  const raw: Array<{ heading: string; lines: string[] }> = [];
  let current: { heading: string; lines: string[] } = { heading: '', lines: [] };
  let fence: string | null = null;
  let sawHeading = false;
  for (const line of lines) {
    const fenceMatch = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (fenceMatch) {
      const marker = (fenceMatch[1] as string)[0] as string;
      if (fence === null) fence = marker;
      else if (fence === marker) fence = null;
      current.lines.push(line);
      continue;
    }
    const heading = fence === null ? /^\s{0,3}#{1,6}\s+(.*)$/.exec(line) : null;
    if (heading) {
      raw.push(current);
      current = { heading: cleanHeading(heading[1] as string), lines: [] };
      sawHeading = true;
      continue;
    }
    current.lines.push(line);
  }
  raw.push(current);

  const title = titleFromFile(file);
  const out: Array<{ heading: string; text: string }> = [];
  if (!sawHeading) {
    // No headings: one section per paragraph, headed by the file's title.
    for (const p of markdown.replace(/\r\n?/g, '\n').split(/\n\s*\n/)) {
      const text = p.trim();
      if (text) out.push({ heading: title, text });
    }
    return out;
  }
  for (const s of raw) {
    const text = s.lines.join('\n').trim();
    if (!text && !s.heading) continue;
    for (const part of chunk(text)) out.push({ heading: s.heading || title, text: part });
  }
  return out;
}

/** Builds the index of every markdown file under `dir` (an absent directory gives an empty index). */
export function buildIndex(dir: string): KeywordIndex {
  const resolved = path.resolve(dir);
  let files: string[] = [];
  try {
    if (statSync(resolved).isDirectory()) files = listMarkdown(resolved);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const sections: Section[] = [];
  for (const file of files) {
    const markdown = readFileSync(path.join(resolved, file), 'utf8');
    for (const { heading, text } of splitSections(markdown, file)) {
      if (tokenize(heading).length === 0 && tokenize(text).length === 0) continue;
      sections.push({ file, heading, order: sections.length, text });
    }
  }
  const search = newSearch();
  search.addAll(sections);
  return { dir: resolved, sections, search };
}

const cache = new Map<string, KeywordIndex>();

/** The index of `dir`, built on first use and cached for the life of the process. */
export function getIndex(dir: string = defaultDocsDir()): KeywordIndex {
  const resolved = path.resolve(dir);
  const hit = cache.get(resolved);
  if (hit) return hit;
  const index = buildIndex(resolved);
  // An empty index (e.g. the directory does not exist yet) is not cached, so docs added later are found.
  if (index.sections.length > 0) cache.set(resolved, index);
  return index;
}

/** Drops cached indexes (tests; docs changed on disk). */
export function clearIndexCache(): void {
  cache.clear();
}

/** Collapses markdown to plain-ish text for snippets. */
function plain(text: string): string {
  return text
    .replace(/```[^\n]*\n?/g, ' ')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`+|\*+/g, '')
    .replace(/[>|]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** A window of at most SNIPPET_CHARS characters around the densest cluster of query terms. */
export function makeSnippet(text: string, queryTerms: ReadonlySet<string>, maxChars = SNIPPET_CHARS): string {
  const flat = plain(text);
  if (flat.length <= maxChars) return flat;
  // Positions of words that match a query term.
  const hits: number[] = [];
  const wordRe = /[\p{L}\p{N}]+/gu;
  for (let m = wordRe.exec(flat); m !== null; m = wordRe.exec(flat)) {
    const t = tokenize(m[0])[0];
    if (t !== undefined && queryTerms.has(t)) hits.push(m.index);
  }
  const budget = maxChars - 2; // room for the two ellipses
  let start = 0;
  if (hits.length > 0) {
    // The window start (a hit, minus some lead-in) that covers the most hits.
    let best = 0;
    let bestCount = -1;
    for (let i = 0; i < hits.length; i++) {
      const from = hits[i] as number;
      let count = 0;
      for (let j = i; j < hits.length && (hits[j] as number) < from + budget * 0.8; j++) count++;
      if (count > bestCount) {
        bestCount = count;
        best = from;
      }
    }
    start = Math.max(0, best - Math.floor(budget * 0.2));
  }
  start = Math.min(start, Math.max(0, flat.length - budget));
  if (start > 0 && flat[start - 1] !== ' ') {
    // Never start mid-word: move forward to the next word.
    const space = flat.indexOf(' ', start);
    if (space >= 0 && space - start < 40) start = space + 1;
  }
  let end = Math.min(flat.length, start + budget);
  if (end < flat.length) {
    const space = flat.lastIndexOf(' ', end);
    if (space > start + budget / 2) end = space;
  }
  const prefix = start > 0 ? '…' : '';
  const suffix = end < flat.length ? '…' : '';
  return `${prefix}${flat.slice(start, end).trim()}${suffix}`;
}

/** The top `k` sections for the query (MiniSearch's score), ties by file then position. */
export function searchIndex(index: KeywordIndex, query: string, k = DEFAULT_K): KeywordHit[] {
  const terms = [...new Set(tokenize(query))];
  if (terms.length === 0 || index.sections.length === 0) return [];
  const scored = index.search
    .search(query)
    .map((r) => ({ section: index.sections[r.id as number] as Section, score: r.score }))
    .filter((r) => r.section && r.score > 0);
  scored.sort((a, b) => {
    const diff = b.score - a.score;
    if (Math.abs(diff) > 1e-9) return diff;
    if (a.section.file !== b.section.file) return a.section.file < b.section.file ? -1 : 1;
    return a.section.order - b.section.order;
  });
  const querySet = new Set(terms);
  return scored.slice(0, Math.max(0, k)).map(({ section, score }) => ({
    file: section.file,
    heading: section.heading,
    snippet: makeSnippet(section.text, querySet),
    score: Math.round(score * 1e4) / 1e4,
  }));
}

/** Keyword search over the markdown files of `docsDir` (default {@link defaultDocsDir}); top `k` (default 3). */
export function keywordSearch(query: string, options: SearchOptions = {}): KeywordHit[] {
  const k = Math.min(MAX_K, Math.max(1, Math.floor(options.k ?? DEFAULT_K)));
  return searchIndex(getIndex(options.docsDir ?? defaultDocsDir()), query, k);
}

export const SearchDocsArgs = z.object({
  query: z.string().check(z.trim(), z.minLength(1, 'must not be empty'), z.maxLength(500, 'at most 500 characters'), z.describe('Keywords to search for.')),
  k: z.optional(z.int().check(z.minimum(1), z.maximum(MAX_K), z.describe(`How many sections (default ${DEFAULT_K}).`))),
});

const ARGUMENTS = argumentsSchema(SearchDocsArgs);

/** Renders hits for the model: numbered, with file, heading and snippet. */
export function formatHits(hits: KeywordHit[]): string {
  if (hits.length === 0) return 'No matching documents.';
  return hits.map((h, i) => `[${i + 1}] ${h.file} — ${h.heading} (score ${h.score})\n${h.snippet}`).join('\n\n');
}

/** The `search_docs` tool over `docsDir` (default {@link defaultDocsDir}, resolved at call time). */
export function createSearchDocsTool(docsDir?: string): Tool {
  return {
    spec: {
      name: 'search_docs',
      description: "Searches the project's documentation (markdown) by keywords and returns the most relevant sections with " + 'their file, heading and a snippet.',
      get parameters() {
        return ARGUMENTS.parameters;
      },
    },
    async run(args: unknown): Promise<ToolResult> {
      const parsed = SearchDocsArgs.safeParse(args);
      if (!parsed.success) return invalidArgumentsResult('search_docs', parsed.error, ARGUMENTS.allowed);
      try {
        const hits = keywordSearch(parsed.data.query, { docsDir, k: parsed.data.k });
        return { content: truncateUtf8(formatHits(hits)), data: { hits } };
      } catch (err) {
        return errorToResult('search_docs', err);
      }
    },
  };
}
