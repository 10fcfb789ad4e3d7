import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import type { StressFigure } from './stress.util.js';

declare module 'vitest' {
  export interface ProvidedContext {
    stressResults: string;
    stressMode: 'short' | 'full';
  }
}

/** Collects every scenario's figures (one JSON line each) and prints them as one table at the end. */
export default function setup(project: TestProject): () => void {
  const file = join(tmpdir(), `longlink-stress-${process.pid}.jsonl`);
  rmSync(file, { force: true });
  const mode = process.env.STRESS_MODE === 'full' ? 'full' : 'short';
  project.provide('stressResults', file);
  project.provide('stressMode', mode);
  const started = Date.now();
  return () => {
    const figures: StressFigure[] = existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as StressFigure)
      : [];
    rmSync(file, { force: true });
    const rows = [
      ['scenario', 'transport', 'figure', 'value', 'limit', 'ok'],
      ...figures.map((f) => [f.scenario, f.transport, f.figure, f.value, f.limit, f.ok ? 'yes' : 'NO']),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
    const line = (r: unknown[]) => `| ${r.map((c, i) => String(c).padEnd(widths[i]!)).join(' | ')} |`;
    const out = [
      '',
      `== stress summary (${mode} mode, ${((Date.now() - started) / 1000).toFixed(0)} s, ${figures.filter((f) => !f.ok).length} over limit)`,
      line(rows[0]!),
      `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
      ...rows.slice(1).map(line),
      '',
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  };
}
