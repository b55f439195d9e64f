/**
 * A status line while the demo runs, on stderr so that stdout carries only the summary.
 * On a terminal it redraws one line; in a log (CI) it prints a line per second instead.
 */
export class Progress {
  private readonly timer: NodeJS.Timeout;
  private readonly tty = process.stderr.isTTY === true;
  private readonly started = performance.now();

  constructor(private readonly line: () => string) {
    this.timer = setInterval(() => this.draw(), this.tty ? 100 : 1000);
  }

  stop(): void {
    clearInterval(this.timer);
    this.draw();
    if (this.tty) process.stderr.write('\n');
  }

  private draw(): void {
    const seconds = ((performance.now() - this.started) / 1000).toFixed(1).padStart(5);
    const text = `${seconds}s  ${this.line()}`;
    if (this.tty) process.stderr.write(`\r\x1b[2K${text}`);
    else process.stderr.write(`${text}\n`);
  }
}
