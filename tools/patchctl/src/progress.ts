/**
 * A one-line progress bar on stderr for long work (retries, reading a stream). Drawn only when
 * stderr is a terminal and the output is not `--json`, so pipes and scripts see nothing of it.
 */
export class Progress {
  private done = 0;
  private readonly enabled: boolean;

  constructor(
    private readonly label: string,
    private total: number,
    options: { json: boolean; stream?: NodeJS.WriteStream } = { json: false },
  ) {
    this.stream = options.stream ?? process.stderr;
    this.enabled = !options.json && Boolean(this.stream.isTTY);
    this.draw();
  }

  private readonly stream: NodeJS.WriteStream;

  tick(n = 1, note = ''): void {
    this.done += n;
    this.draw(note);
  }

  /** Sets how much is done (for work that reports a running count rather than steps). */
  set(done: number, note = ''): void {
    this.done = done;
    this.draw(note);
  }

  setTotal(total: number): void {
    this.total = total;
    this.draw();
  }

  finish(): void {
    if (this.enabled) this.stream.write('\r\x1b[2K');
  }

  private draw(note = ''): void {
    if (!this.enabled) return;
    const width = 24;
    const ratio = this.total > 0 ? Math.min(1, this.done / this.total) : 0;
    const filled = Math.round(ratio * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    this.stream.write(`\r\x1b[2K${this.label} ${bar} ${this.done}/${this.total}${note ? ` ${note}` : ''}`);
  }
}
