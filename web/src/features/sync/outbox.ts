/**
 * Writes waiting for the network, kept in IndexedDB (they survive a reload), per user, in the
 * order they were made. Each keeps the Idempotency-Key it will be sent with, so a send that is
 * retried (lost answer, two tabs) is still one write on the server. Cleared at sign-out.
 *
 * Only task fields and ids are stored here: no token or other secret.
 */
import type { TaskDraft } from '../tasks/types';

export type OutboxWrite =
  | { kind: 'create'; draft: TaskDraft }
  | {
      kind: 'update';
      taskId: string;
      draft: TaskDraft;
      /** The ETag the edit started from; null when it was made without one. */
      ifMatch: string | null;
      /** The version the edit started from (checked before sending when there is no ETag);
       * null means "overwrite whatever is there". */
      baseVersion: number | null;
    }
  | { kind: 'delete'; taskId: string; title: string };

export interface OutboxEntry {
  seq: number;
  userId: string;
  key: string;
  write: OutboxWrite;
  queuedAt: string;
  /** The server answered 412: waiting for the person to reload or overwrite. */
  conflict: boolean;
}

export type NewEntry = Omit<OutboxEntry, 'seq'>;

export interface OutboxStorage {
  all(): Promise<OutboxEntry[]>;
  add(entry: NewEntry): Promise<OutboxEntry>;
  put(entry: OutboxEntry): Promise<void>;
  remove(seq: number): Promise<void>;
  clear(): Promise<void>;
  getUser(): Promise<string | null>;
  setUser(userId: string | null): Promise<void>;
}

const DB_NAME = 'taskstream-outbox';
const WRITES = 'writes';
const META = 'meta';

function promised<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

export class IndexedDbStorage implements OutboxStorage {
  private db: Promise<IDBDatabase> | null = null;

  constructor(private readonly factory: IDBFactory = indexedDB) {}

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise((resolve, reject) => {
      const request = this.factory.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore(WRITES, { keyPath: 'seq', autoIncrement: true });
        request.result.createObjectStore(META);
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error ?? new Error('IndexedDB unavailable'));
    });
    return this.db;
  }

  private async tx<T>(
    stores: string[],
    mode: IDBTransactionMode,
    work: (tx: IDBTransaction) => Promise<T>,
  ): Promise<T> {
    const tx = (await this.open()).transaction(stores, mode);
    const [result] = await Promise.all([work(tx), done(tx)]);
    return result;
  }

  all() {
    return this.tx([WRITES], 'readonly', (tx) =>
      promised(tx.objectStore(WRITES).getAll() as IDBRequest<OutboxEntry[]>),
    );
  }

  add(entry: NewEntry) {
    return this.tx([WRITES], 'readwrite', async (tx) => {
      const seq = await promised(tx.objectStore(WRITES).add(entry));
      return { ...entry, seq: Number(seq) };
    });
  }

  async put(entry: OutboxEntry) {
    await this.tx([WRITES], 'readwrite', (tx) => promised(tx.objectStore(WRITES).put(entry)));
  }

  async remove(seq: number) {
    await this.tx([WRITES], 'readwrite', (tx) => promised(tx.objectStore(WRITES).delete(seq)));
  }

  async clear() {
    await this.tx([WRITES, META], 'readwrite', async (tx) => {
      await promised(tx.objectStore(WRITES).clear());
      await promised(tx.objectStore(META).clear());
    });
  }

  getUser() {
    return this.tx([META], 'readonly', async (tx) => {
      const value: unknown = await promised(tx.objectStore(META).get('user'));
      return typeof value === 'string' ? value : null;
    });
  }

  async setUser(userId: string | null) {
    await this.tx([META], 'readwrite', async (tx) => {
      const meta = tx.objectStore(META);
      if (userId === null) await promised(meta.delete('user'));
      else await promised(meta.put(userId, 'user'));
    });
  }
}

/** For unit tests, and for a browser without IndexedDB (then the queue lasts one page load). */
export class MemoryStorage implements OutboxStorage {
  private entries: OutboxEntry[] = [];
  private next = 1;
  private user: string | null = null;

  async all() {
    return this.entries.map((entry) => ({ ...entry }));
  }
  async add(entry: NewEntry) {
    const stored = { ...entry, seq: this.next++ };
    this.entries.push(stored);
    return { ...stored };
  }
  async put(entry: OutboxEntry) {
    this.entries = this.entries.map((old) => (old.seq === entry.seq ? { ...entry } : old));
  }
  async remove(seq: number) {
    this.entries = this.entries.filter((entry) => entry.seq !== seq);
  }
  async clear() {
    this.entries = [];
    this.user = null;
  }
  async getUser() {
    return this.user;
  }
  async setUser(userId: string | null) {
    this.user = userId;
  }
}

const CHANNEL_NAME = 'taskstream-outbox';

/**
 * The queue as the UI sees it: a snapshot of the stored entries (useSyncExternalStore), kept
 * in step across tabs by a BroadcastChannel ping after each change.
 */
export class Outbox {
  private entries: OutboxEntry[] = [];
  private user: string | null = null;
  private readonly listeners = new Set<() => void>();
  private channel: BroadcastChannel | null = null;
  private loaded: Promise<void> | null = null;

  constructor(private readonly storage: OutboxStorage) {}

  subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  getEntries = (): OutboxEntry[] => this.entries;

  /** The user whose writes this device holds (the last one signed in here). */
  getUser = (): string | null => this.user;

  /** Reads the stored queue (once; again after another tab changed it). */
  load(): Promise<void> {
    if (!this.loaded) {
      this.listenToOtherTabs();
      this.loaded = this.reload();
    }
    return this.loaded;
  }

  private async reload() {
    const [entries, user] = await Promise.all([this.storage.all(), this.storage.getUser()]);
    this.entries = entries.sort((a, b) => a.seq - b.seq);
    this.user = user;
    this.emit();
  }

  private listenToOtherTabs() {
    if (this.channel || typeof BroadcastChannel === 'undefined') return;
    this.channel = new BroadcastChannel(CHANNEL_NAME);
    this.channel.onmessage = () => void this.reload();
  }

  private emit() {
    this.listeners.forEach((listener) => listener());
  }

  private async changed() {
    await this.reload();
    this.channel?.postMessage('changed');
  }

  /** Remembers who is signed in, so a reload without network still knows whose queue it is. */
  async setUser(userId: string) {
    await this.load();
    if (this.user === userId) return;
    await this.storage.setUser(userId);
    await this.changed();
  }

  async enqueue(userId: string, write: OutboxWrite, key: string): Promise<OutboxEntry> {
    await this.load();
    const entry = await this.storage.add({
      userId,
      key,
      write,
      queuedAt: new Date().toISOString(),
      conflict: false,
    });
    await this.changed();
    return entry;
  }

  async update(entry: OutboxEntry) {
    await this.storage.put(entry);
    await this.changed();
  }

  async remove(seq: number) {
    await this.storage.remove(seq);
    await this.changed();
  }

  /** After a write to `taskId` succeeded: later queued edits of it start from `etag`. */
  async rebase(taskId: string, etag: string | null, version: number) {
    for (const entry of this.entries) {
      const write = entry.write;
      if (write.kind !== 'update' || write.taskId !== taskId || write.baseVersion === null)
        continue;
      await this.storage.put({
        ...entry,
        write: { ...write, ifMatch: etag, baseVersion: version },
      });
    }
    await this.changed();
  }

  async clear() {
    await this.storage.clear();
    await this.changed();
  }

  /** The current user's entries, oldest first. */
  pendingFor(userId: string | null): OutboxEntry[] {
    return userId ? this.entries.filter((entry) => entry.userId === userId) : [];
  }
}

function defaultStorage(): OutboxStorage {
  return typeof indexedDB === 'undefined' ? new MemoryStorage() : new IndexedDbStorage();
}

export const outbox = new Outbox(defaultStorage());
