/**
 * The frames one subscription holds while its writer's buffer is full, oldest first, with the
 * size and event id of each (the id becomes the resume point once its frame is written).
 * Three parallel arrays read from a moving head: no object per queued frame, and no copying on
 * each removal (the consumed prefix is cut off in one go once it is most of the arrays).
 */
export class FrameQueue<F> {
  private readonly frames: F[] = [];
  private readonly sizes: number[] = [];
  private readonly ids: (string | undefined)[] = [];
  private head = 0;

  /** Frames waiting. */
  get length(): number {
    return this.frames.length - this.head;
  }

  /** Size of the oldest frame (the queue must not be empty). */
  get headSize(): number {
    return this.sizes[this.head] as number;
  }

  /** Event id of the oldest frame (the queue must not be empty). */
  get headId(): string | undefined {
    return this.ids[this.head];
  }

  /** Appends a frame. */
  push(frame: F, size: number, id: string | undefined): void {
    this.frames.push(frame);
    this.sizes.push(size);
    this.ids.push(id);
  }

  /** Removes and returns the oldest frame (the queue must not be empty). */
  shift(): F {
    const frame = this.frames[this.head] as F;
    this.frames[this.head] = undefined as F;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.frames.length) {
      this.frames.splice(0, this.head);
      this.sizes.splice(0, this.head);
      this.ids.splice(0, this.head);
      this.head = 0;
    }
    return frame;
  }

  /** Removes every frame. */
  clear(): void {
    this.frames.length = 0;
    this.sizes.length = 0;
    this.ids.length = 0;
    this.head = 0;
  }
}
