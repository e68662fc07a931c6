/**
 * Self time by function from a V8 .cpuprofile (what `node --cpu-prof` writes).
 *   node dist-bench/bench/profile-summary.js <file.cpuprofile> [top]
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { REPO } from '../test/support/processes.js';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  function: string;
  location: string;
  self_ms: number;
  percent: number;
}

export function summarizeProfile(file: string, top = 15): { total_ms: number; idle_ms: number; top: SelfTime[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  // Self time of a node: the time deltas of the samples that landed in it (more exact than hitCount × interval).
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the time after it, as Chrome DevTools does.
    const delta = deltas[i + 1] ?? 0;
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + Math.max(0, delta));
  }
  const repoUrl = pathToFileURL(REPO).href + '/';
  const sums = new Map<string, { function: string; location: string; us: number }>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    total += us;
    if (frame.functionName === '(idle)') idle += us;
    const url = frame.url.startsWith(repoUrl)
      ? frame.url.slice(repoUrl.length)
      : frame.url.startsWith('file://')
        ? relative(REPO, new URL(frame.url).pathname)
        : frame.url;
    const location = url ? `${url}:${frame.lineNumber + 1}` : '';
    const name = frame.functionName || '(anonymous)';
    const key = `${name}@${location}`;
    const entry = sums.get(key) ?? { function: name, location, us: 0 };
    entry.us += us;
    sums.set(key, entry);
  }
  const busy = total - idle;
  const ranked = [...sums.values()]
    .filter((entry) => entry.function !== '(idle)')
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((entry) => ({
      function: entry.function,
      location: entry.location,
      self_ms: entry.us / 1000,
      percent: (100 * entry.us) / Math.max(1, busy),
    }));
  return { total_ms: total / 1000, idle_ms: idle / 1000, top: ranked };
}

export function formatSummary(title: string, summary: ReturnType<typeof summarizeProfile>): string {
  const busyMs = (summary.total_ms - summary.idle_ms).toFixed(0);
  const lines = [`${title}: ${busyMs} ms busy of ${summary.total_ms.toFixed(0)} ms profiled (percent of busy time)`];
  for (const entry of summary.top) {
    const selfMs = entry.self_ms.toFixed(1).padStart(8);
    const percent = entry.percent.toFixed(1).padStart(5);
    lines.push(`  ${selfMs} ms ${percent}%  ${entry.function}  ${entry.location}`);
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: profile-summary.js <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(formatSummary(file, summarizeProfile(file, Number(process.argv[3] ?? 15))) + '\n');
}
