/**
 * Renders the file gateway's progress on stderr: one line redrawn in place on a terminal, a JSON line
 * per file event otherwise (for logs of a scheduled task).
 */
import type { FilesProgress } from './filesGateway.ts';

/** Something to write to: `process.stderr` or a test's collector. */
export interface ProgressOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

const WIDTH = 24;

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** The one-line bar for a terminal. */
export function progressLine(p: FilesProgress): string {
  const share = p.bytesTotal > 0 ? Math.min(1, p.bytesRead / p.bytesTotal) : 1;
  const filled = Math.round(share * WIDTH);
  const name = p.file.length > 40 ? `…${p.file.slice(-39)}` : p.file;
  return `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${p.filesFinished}/${p.filesTotal} files ${size(p.bytesRead)}/${size(p.bytesTotal)} ${p.records} records ${name}`;
}

/** An `onProgress` that draws on `out` (a bar on a TTY, JSON lines of file events otherwise). */
export function progressRenderer(out: ProgressOutput = process.stderr): {
  onProgress: (p: FilesProgress) => void;
  /** Ends the bar's line. */
  finish: () => void;
} {
  let drawn = false;
  return {
    onProgress(p) {
      if (out.isTTY) {
        out.write(`\r\x1b[2K${progressLine(p)}`);
        drawn = true;
      } else if (p.event !== 'reading') out.write(`${JSON.stringify(p)}\n`);
    },
    finish() {
      if (drawn) out.write('\n');
      drawn = false;
    },
  };
}
