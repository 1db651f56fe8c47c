/**
 * PUBACKs in the order the PUBLISHes came. MQTT requires a subscriber to acknowledge QoS 1 messages in
 * the order it received them, while their records become durable in any order (different partition
 * keys travel in different entries). So each message takes a slot when received; a settled slot is
 * acknowledged once every slot before it is, which holds a later acknowledgement behind an earlier
 * record still on its way to the stream.
 */

/** A message's place in the queue. */
export interface AckSlot {
  readonly messageId: number;
  settled: boolean;
}

/** The queue of one connection: `send` writes a PUBACK. */
export class AckQueue {
  private slots: AckSlot[] = [];
  private head = 0;

  constructor(private readonly send: (messageId: number) => void) {}

  /** Messages received and not yet acknowledged. */
  get pending(): number {
    return this.slots.length - this.head;
  }

  /** Takes a slot for a message just received. */
  add(messageId: number): AckSlot {
    const slot: AckSlot = { messageId, settled: false };
    this.slots.push(slot);
    return slot;
  }

  /** Marks `slot` durable; acknowledges it and any settled slots behind it once all before are. */
  settle(slot: AckSlot): number {
    slot.settled = true;
    let sent = 0;
    while (this.head < this.slots.length && this.slots[this.head]!.settled) {
      this.send(this.slots[this.head]!.messageId);
      this.head++;
      sent++;
    }
    // Compact now and then rather than shifting one slot at a time (O(n) each).
    if (this.head > 1024 && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.head = 0;
    }
    return sent;
  }
}
