// Rate limit of the landing page: one token bucket per client address.
//
// A bucket holds up to `burst` tokens and gains `perSecond` tokens a second; each request takes
// one. A client that finds its bucket empty is told how long to wait. Past `maxClients`
// addresses, the bucket used least recently is dropped, so a flood of addresses costs bounded
// memory (a dropped client starts again with a full bucket).

export interface RateLimitOptions {
  /** Requests a client may make at once. Default 20. */
  burst?: number;
  /** Requests a second a client gets back. Default 0.5 (30 a minute). */
  perSecond?: number;
  /** Most addresses remembered at a time. Default 4096. */
  maxClients?: number;
  /** Milliseconds of a monotonic clock; for tests. Default `performance.now()`. */
  now?: () => number;
}

export interface RateDecision {
  allowed: boolean;
  /** Whole seconds until one request is possible again; 0 when allowed. */
  retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  readonly burst: number;
  readonly perSecond: number;
  readonly maxClients: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: RateLimitOptions = {}) {
    const { burst = 20, perSecond = 0.5, maxClients = 4096 } = options;
    if (!Number.isInteger(burst) || burst < 1) {
      throw new RangeError(`rate limit: burst must be a whole number, 1 or more, got ${burst}`);
    }
    if (!Number.isFinite(perSecond) || perSecond <= 0) {
      throw new RangeError(`rate limit: perSecond must be a number above 0, got ${perSecond}`);
    }
    if (!Number.isInteger(maxClients) || maxClients < 1) {
      throw new RangeError(
        `rate limit: maxClients must be a whole number, 1 or more, got ${maxClients}`,
      );
    }

    this.burst = burst;
    this.perSecond = perSecond;
    this.maxClients = maxClients;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Takes one token from `key`'s bucket, if there is one. */
  take(key: string): RateDecision {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.burst, at: now };
      this.#remember(key, bucket);
    } else {
      const gained = (Math.max(now - bucket.at, 0) / 1000) * this.perSecond;
      bucket.tokens = Math.min(this.burst, bucket.tokens + gained);
      bucket.at = now;
      this.#buckets.delete(key);
      this.#buckets.set(key, bucket);
    }

    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, retryAfterSeconds: 0 };
    }
    const wait = Math.ceil((1 - bucket.tokens) / this.perSecond);
    return { allowed: false, retryAfterSeconds: Math.max(wait, 1) };
  }

  /** How many addresses have a bucket now. */
  get size(): number {
    return this.#buckets.size;
  }

  #remember(key: string, bucket: Bucket): void {
    while (this.#buckets.size >= this.maxClients) {
      const oldest = this.#buckets.keys().next().value as string;
      this.#buckets.delete(oldest);
    }
    this.#buckets.set(key, bucket);
  }
}
