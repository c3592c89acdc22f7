/**
 * A one-line progress bar on a TTY (stderr), redrawn in place; silent when stderr is not a
 * terminal so logs and pipes get only the per-round lines.
 */
export class ProgressBar {
  private readonly enabled: boolean;
  private shown = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.enabled = stream.isTTY === true;
  }

  update(label: string, done: number, total: number): void {
    if (!this.enabled) return;
    const width = 24;
    const filled = total > 0 ? Math.round((done / total) * width) : 0;
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    this.stream.write(`\r${label} [${bar}] ${done}/${total}\x1b[K`);
    this.shown = true;
  }

  /** Erases the bar before a normal line is printed. */
  clear(): void {
    if (!this.enabled || !this.shown) return;
    this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}
