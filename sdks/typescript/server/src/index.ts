// @latchkey/server: Latchkey's API for your backend (Node 20+, Deno, Bun). No dependencies.

export { Latchkey, VERSION } from "./client.js";
export type { LatchkeyOptions, RequestOptions } from "./client.js";
export type { TokenCacheOptions } from "./cache.js";
export { reuseMillis } from "./cache.js";
export * from "./errors.js";
export { verifyWebhook, signWebhook, parseSignatureHeader, WebhookVerificationError } from "./webhook.js";
export type { WebhookEvent, WebhookFailure, VerifyWebhookOptions, HeaderSource } from "./webhook.js";
export type * from "./types.js";

import type { Subject } from "./types.js";

/** `{type: "user", id}`. */
export function user(id: string): Subject {
  return { type: "user", id };
}

/** `{type: "app"}`. */
export function app(): Subject {
  return { type: "app" };
}
