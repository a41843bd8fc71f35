import { Injectable } from '@nestjs/common';

/**
 * "New revocation entries are committed": raised after each revocation here and, through
 * SessionRevocationBus (Redis), for those of other instances. The feed reads the table on it,
 * so a stream hears of a revocation within milliseconds instead of at its next poll.
 */
@Injectable()
export class RevocationSignal {
  private readonly listeners = new Set<() => void>();

  raise(): void {
    for (const listener of this.listeners) listener();
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
