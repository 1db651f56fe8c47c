/**
 * The progress bar on stderr: redrawn in place on a terminal, a line every few seconds otherwise
 * (logs and CI), so a long sweep shows it is alive without flooding a file.
 */

/** Draws progress of a whole sweep. */
export class ProgressBar {
  private lastLineAt = 0;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly width = 28,
  ) {}

  /** Shows `done` (0..1) of the whole sweep, what is running and its status. */
  update(done: number, what: string, status: string): void {
    const filled = Math.round(Math.min(1, Math.max(0, done)) * this.width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(this.width - filled)}`;
    const line = `${bar} ${String(Math.floor(done * 100)).padStart(3)}%  ${what}  ${status}`;
    if (this.stream.isTTY) {
      this.stream.write(`\r\x1b[2K${line.slice(0, (this.stream.columns ?? 120) - 1)}`);
      return;
    }
    const now = Date.now();
    if (now - this.lastLineAt < 5000 && status !== 'done') return;
    this.lastLineAt = now;
    this.stream.write(`${line}\n`);
  }

  /** Ends the bar's line. */
  finish(): void {
    if (this.stream.isTTY) this.stream.write('\n');
  }
}
