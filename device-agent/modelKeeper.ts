import type { ModelStore, SavedModel } from './modelStore.js';

/**
 * Hands each new global (another version, checksum or task) to the model store, in the
 * background and one write at a time: globals that arrive during a write wait, and only the
 * newest of them is written next. A failed write is reported and the next global tries again.
 */
export class ModelKeeper {
  /** What the store holds or is writing (version, checksum and task). */
  private savedKey = '';
  private waiting: { key: string; model: SavedModel } | null = null;
  private writing: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly store: ModelStore,
    private readonly saved: (model: SavedModel) => void,
    private readonly failed: (error: Error) => void,
  ) {}

  offer(model: SavedModel): void {
    const key = `${model.version} ${model.sha256} ${JSON.stringify(model.task)}`;
    if (this.stopped || key === this.savedKey || key === this.waiting?.key) return;
    this.waiting = { key, model };
    this.writing ??= this.drain();
  }

  /** Waits for the write under way (atomic either way); nothing newer is started. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.writing;
  }

  private async drain(): Promise<void> {
    for (let next = this.waiting; next !== null && !this.stopped; next = this.waiting) {
      this.waiting = null;
      const previous = this.savedKey;
      this.savedKey = next.key;
      try {
        await this.store.save(next.model);
        this.saved(next.model);
      } catch (error) {
        if (this.savedKey === next.key) this.savedKey = previous;
        this.failed(error as Error);
      }
    }
    this.writing = null;
  }
}
