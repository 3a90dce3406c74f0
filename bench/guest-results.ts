// What the benchmarks that run in a QEMU guest (bench:vm, bench:nvmf,
// bench:nvmf-host) share once the guest is done: its results file taken
// (or the run ended, saying why), kept in bench/build, and the medians of
// the repetitions of one point.
import fs from 'node:fs';
import path from 'node:path';
import { median } from './common.js';

/**
 * The guest's `bench.json` (`{ runs }`), also written to `outFile` with the
 * date and `extra`; exits the process with the guest's stderr tail when the
 * guest failed or wrote no results.
 */
export function guestRuns<R>(result: { exitCode: number | null; stderr: string; files: Map<string, Buffer> }, outFile: string, extra: Record<string, unknown>): R[] {
  const json = result.files.get('bench.json');
  if (result.exitCode !== 0 || !json) {
    console.error(`guest bench exited ${result.exitCode}${json ? '' : ' without results'}\n${result.stderr.slice(-3000)}`);
    process.exit(1);
  }
  const runs = (JSON.parse(json.toString()) as { runs: R[] }).runs;
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, JSON.stringify({ date: new Date().toISOString(), ...extra, runs }, null, 2));
  return runs;
}

/** Medians of IOPS, mean and p99 latency over the repetitions of one point that did not fail. */
export function medians(ok: ReadonlyArray<{ iops?: number; meanUs?: number; p99Us?: number }>): { iops: number; meanUs: number; p99Us: number; n: number } {
  return { iops: median(ok.map((r) => r.iops!)), meanUs: median(ok.map((r) => r.meanUs!)), p99Us: median(ok.map((r) => r.p99Us!)), n: ok.length };
}
