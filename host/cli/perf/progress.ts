// perf's progress, on stderr (stdout keeps the summary or the JSON):
//   - stderr a terminal: one line redrawn in place (a bar, the percentage
//     done, the time left and the last second's IOPS, MiB/s and average
//     latency), cleared when the run ends, so the summary follows on a
//     clean screen. Drawn by cli-progress: it redraws in place without
//     wrapping (the line is cut to the terminal's width), throttles the
//     redraws, hides the cursor and gives it back on stop, and it brings
//     one small package along (string-width). log-update, the other
//     choice, needs Node 22 from 8.0, and its 6.x for Node 20 brings a
//     dozen packages, among them a signal-exit hook on SIGINT, which perf
//     handles itself (summary marked interrupted, exit 130).
//   - stderr piped or a file: one line a second (formatProgress), plain
//     text that a log keeps; none with --json, whose readers want stderr
//     for errors only.
import cliProgress from 'cli-progress';
import { formatProgress, runShare, type ProgressFigures } from './format.js';

export type ProgressMode = 'tty' | 'lines' | 'off';

/** How perf shows progress on `stream` (see the header). */
export function progressMode(stream: { isTTY?: boolean }, json: boolean): ProgressMode {
  if (stream.isTTY) return 'tty';
  return json ? 'off' : 'lines';
}

export class ProgressReporter {
  private bar: cliProgress.SingleBar | undefined;
  private figures = 'starting';

  constructor(
    private readonly stream: NodeJS.WritableStream & { isTTY?: boolean },
    readonly mode: ProgressMode,
    private readonly totalS: number,
  ) {}

  start(): void {
    if (this.mode !== 'tty') return;
    this.bar = new cliProgress.SingleBar({
      stream: this.stream as NodeJS.WritableStream,
      format: '{bar} {percentage}% | {elapsed} of {totalS} s, {left} s left | {figures}',
      barsize: 20,
      barCompleteChar: '█',
      barIncompleteChar: '░',
      hideCursor: true,
      clearOnComplete: true,
      linewrap: false,
      fps: 5,
    });
    this.bar.start(Math.round(this.totalS * 1000), 0, this.payload(0));
  }

  private payload(elapsedS: number): Record<string, string> {
    const { leftS } = runShare(elapsedS, this.totalS);
    return { elapsed: elapsedS.toFixed(1), totalS: String(this.totalS), left: String(leftS), figures: this.figures };
  }

  /** The run time so far (every poll slice): moves the bar. */
  tick(elapsedS: number): void {
    this.bar?.update(Math.min(Math.round(elapsedS * 1000), Math.round(this.totalS * 1000)), this.payload(elapsedS));
  }

  /** The last second's figures. */
  report(p: ProgressFigures): void {
    if (this.mode === 'lines') {
      this.stream.write(`${formatProgress(p)}\n`);
      return;
    }
    this.figures = `${p.iops.toFixed(0)} IOPS, ${p.mibps.toFixed(2)} MiB/s, avg ${p.avgLatencyUs.toFixed(2)} us`;
    this.tick(p.elapsedS);
  }

  /** Clear the line (terminal) and give the cursor back. Safe to call twice. */
  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
