/**
 * Sync rounds trained by a pool of workers finish in whatever order the threads run; the
 * aggregate's floating-point sums would then differ from run to run in the last bits. This
 * gate lets the round's updates out in its participant order instead, each once the one before
 * it has been published (or dropped out, or failed), so a seed gives the same run bit for bit.
 * Training itself stays parallel: only publishing waits.
 */
export class OrderedRelease {
  private order: readonly string[] = [];
  private next = 0;
  private readonly done = new Set<string>();
  private readonly waiting = new Map<string, () => void>();

  /** A new round: its participants' order. Work still held from an older round goes now. */
  roundStarted(participants: readonly string[]): void {
    for (const release of this.waiting.values()) release();
    this.waiting.clear();
    this.done.clear();
    this.order = participants;
    this.next = 0;
  }

  /** Resolves when every participant before `deviceId` has reported. */
  turn(deviceId: string): Promise<void> {
    if (!this.order.includes(deviceId) || this.order[this.next] === deviceId) return Promise.resolve();
    return new Promise((resolve) => this.waiting.set(deviceId, resolve));
  }

  /** `deviceId` published its update, dropped out or gave up: the next may go. */
  finished(deviceId: string): void {
    if (!this.order.includes(deviceId)) return;
    this.done.add(deviceId);
    while (this.next < this.order.length && this.done.has(this.order[this.next]!)) this.next += 1;
    const id = this.order[this.next];
    const release = id === undefined ? undefined : this.waiting.get(id);
    if (release) {
      this.waiting.delete(id!);
      release();
    }
  }
}
