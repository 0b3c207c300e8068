// The in-process token cache: a token is reused until its expiry minus a buffer (and never for
// more than half of its remaining lifetime), and concurrent misses for one key make one request.

import type { ProviderToken } from "./types.js";

export interface TokenCacheOptions {
  /** Stop reusing a token this many seconds before it expires (default 60). */
  bufferSeconds?: number;
  /** How long a token without an expiry is reused (default 300). */
  noExpiryTtlSeconds?: number;
  /** The most tokens kept; the oldest go first (default 1000). */
  maxEntries?: number;
}

/** How long (ms) a token fetched at `nowMs` may be reused; 0 means not at all. */
export function reuseMillis(expiresAt: Date | null, nowMs: number, bufferSeconds: number, noExpiryTtlSeconds: number): number {
  if (expiresAt === null) return Math.max(0, noExpiryTtlSeconds * 1000);
  const remaining = expiresAt.getTime() - nowMs;
  if (remaining <= 0) return 0;
  return Math.max(0, Math.min(remaining - bufferSeconds * 1000, remaining / 2));
}

export class TokenCache {
  readonly #entries = new Map<string, { token: ProviderToken; until: number }>();
  readonly #inflight = new Map<string, Promise<ProviderToken>>();
  readonly #buffer: number;
  readonly #noExpiryTtl: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: TokenCacheOptions, now: () => number) {
    this.#buffer = options.bufferSeconds ?? 60;
    this.#noExpiryTtl = options.noExpiryTtlSeconds ?? 300;
    this.#max = options.maxEntries ?? 1000;
    this.#now = now;
    if (!(this.#buffer >= 0) || !(this.#noExpiryTtl >= 0) || !(this.#max >= 1)) throw new RangeError("invalid token cache options");
  }

  /** The cached token for `key` if still fresh; else one fetch, shared by every concurrent caller. */
  get(key: string, fetch: () => Promise<ProviderToken>, force = false): Promise<ProviderToken> {
    if (!force) {
      const entry = this.#entries.get(key);
      if (entry && entry.until > this.#now()) return Promise.resolve(entry.token);
      if (entry) this.#entries.delete(key);
    }
    const pending = this.#inflight.get(key);
    if (pending) return pending;
    const started = this.#now();
    const promise = (async () => {
      try {
        const token = await fetch();
        const reuse = reuseMillis(token.expiresAt, started, this.#buffer, this.#noExpiryTtl);
        if (reuse > 0) {
          this.#entries.delete(key);
          this.#entries.set(key, { token, until: started + reuse });
          while (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as string);
        }
        return token;
      } finally {
        this.#inflight.delete(key);
      }
    })();
    this.#inflight.set(key, promise);
    return promise;
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
