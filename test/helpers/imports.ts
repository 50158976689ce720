import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { specifiersOf } from '../../local/source-graph';

export { resolveImport, specifiersOf } from '../../local/source-graph';

/** Every source file under `dir` (TypeScript and JavaScript). */
export function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sourceFiles(path);
    return /\.(ts|js|mjs|cjs)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/**
 * The specifiers a file loads at run time: those of specifiersOf() but `import type` and `export type ... from`,
 * which the compiler erases.
 */
export function runtimeSpecifiersOf(source: string): string[] {
  return specifiersOf(source.replace(/\b(?:import|export)\s+type\b[^'"`;]*?\bfrom\s*['"][^'"]+['"]/g, ''));
}

/**
 * Every circle of a directed graph: each strongly connected component of more than one node (or a node importing
 * itself), its nodes sorted (Tarjan's algorithm, iterative so a deep graph cannot overflow the stack).
 */
export function circlesOf(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let next = 0;
  for (const root of graph.keys()) {
    if (index.has(root)) continue;
    const work: { node: string; edge: number }[] = [{ node: root, edge: 0 }];
    index.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (work.length) {
      const top = work[work.length - 1] as { node: string; edge: number };
      const edges = graph.get(top.node) ?? [];
      if (top.edge < edges.length) {
        const to = edges[top.edge++] as string;
        if (!index.has(to)) {
          index.set(to, next);
          low.set(to, next++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, edge: 0 });
        } else if (onStack.has(to)) low.set(top.node, Math.min(low.get(top.node) as number, index.get(to) as number));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node) as number, low.get(top.node) as number));
      if (low.get(top.node) !== index.get(top.node)) continue;
      const component: string[] = [];
      for (;;) {
        const n = stack.pop() as string;
        onStack.delete(n);
        component.push(n);
        if (n === top.node) break;
      }
      if (component.length > 1 || edges.includes(top.node)) out.push(component.sort());
    }
  }
  return out;
}
