/**
 * Characters translated per account for the DeepL-compatible API (/v2/usage, 456 past the quota).
 * An account is an API key (by index), or every client together when the server has no keys.
 * Counted in memory since the server started: a restart starts a new period.
 *
 * A request reserves its characters before it is translated and gives them back if it fails,
 * so concurrent requests cannot pass the quota together.
 */

/** What DeepL reports as the limit of an account without one (its Pro accounts answer 10^12). */
export const NO_LIMIT = 1_000_000_000_000;

export class CharacterQuota {
  private readonly used = new Map<string, number>();

  /** @param limit characters per account; 0 = no quota. */
  constructor(private readonly limit: number) {}

  /** Reserves `chars` for `account`; false (and nothing reserved) when that would pass the quota. */
  reserve(account: string, chars: number): boolean {
    const used = this.used.get(account) ?? 0;
    if (this.limit > 0 && used + chars > this.limit) return false;
    this.used.set(account, used + chars);
    return true;
  }

  /** Gives back what a failed request reserved. */
  release(account: string, chars: number): void {
    this.used.set(account, Math.max(0, (this.used.get(account) ?? 0) - chars));
  }

  usage(account: string): { count: number; limit: number } {
    return { count: this.used.get(account) ?? 0, limit: this.limit > 0 ? this.limit : NO_LIMIT };
  }
}
