// Verifying Latchkey's webhooks:
//   Latchkey-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
// plus Latchkey-Event-Id (the same on every retry: drop duplicates by it) and Latchkey-Event.

import { hmacKey, fromHex, subtle, utf8, toHex } from "./crypto.js";

/** Why a webhook was refused. */
export type WebhookFailure = "missing_header" | "malformed_header" | "timestamp_out_of_tolerance" | "signature_mismatch" | "invalid_body";

/** A webhook that did not verify. The message never contains the secret, the signature or the body. */
export class WebhookVerificationError extends Error {
  readonly reason: WebhookFailure;
  constructor(reason: WebhookFailure, message: string) {
    super(message);
    this.name = "WebhookVerificationError";
    this.reason = reason;
  }
}

/** A verified webhook. */
export interface WebhookEvent<T = Record<string, unknown>> {
  /** `Latchkey-Event-Id`: unique per event, the same on every retry. */
  id: string | null;
  /** `Latchkey-Event`, e.g. `connection.created`. */
  type: string | null;
  /** The signature's timestamp (unix seconds). */
  timestamp: number;
  /** The parsed JSON body. */
  payload: T;
}

export type HeaderSource = Headers | Record<string, string | string[] | undefined> | Map<string, string>;

export interface VerifyWebhookOptions {
  /** Refuse timestamps further than this from now, past or future (default 300). */
  toleranceSeconds?: number;
  /** Now, in unix seconds (tests). */
  now?: number;
}

function header(headers: HeaderSource, name: string): string | null {
  if (typeof (headers as Headers).get === "function" && !(headers instanceof Map)) {
    return (headers as Headers).get(name);
  }
  const entries: Iterable<[string, unknown]> = headers instanceof Map ? headers.entries() : Object.entries(headers);
  for (const [key, value] of entries) {
    if (key.toLowerCase() !== name) continue;
    if (Array.isArray(value)) return value.length === 1 ? String(value[0]) : value.length === 0 ? null : value.join(",");
    return value === undefined ? null : String(value);
  }
  return null;
}

/** `t=...,v1=...[,v1=...]` → timestamp and candidate signatures, or null when malformed. */
export function parseSignatureHeader(value: string): { timestamp: number; signatures: Uint8Array[] } | null {
  let timestamp: number | null = null;
  const signatures: Uint8Array[] = [];
  for (const part of value.split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) return null;
    const key = part.slice(0, eq).trim();
    const val = part.slice(eq + 1).trim();
    if (key === "t") {
      if (timestamp !== null || !/^\d{1,12}$/.test(val)) return null;
      timestamp = Number(val);
    } else if (key === "v1") {
      const bytes = fromHex(val);
      if (!bytes || bytes.length !== 32) return null;
      signatures.push(bytes);
    }
    // Other schemes (v0, v2, ...) are ignored: a future signature scheme must not break this SDK.
  }
  if (timestamp === null || signatures.length === 0) return null;
  return { timestamp, signatures };
}

function bodyBytes(rawBody: string | Uint8Array | ArrayBuffer): Uint8Array {
  if (typeof rawBody === "string") return utf8(rawBody);
  if (rawBody instanceof Uint8Array) return rawBody;
  if (rawBody instanceof ArrayBuffer) return new Uint8Array(rawBody);
  throw new WebhookVerificationError("invalid_body", "the raw body must be a string, a Uint8Array or an ArrayBuffer (not parsed JSON)");
}

/**
 * Verifies a webhook and returns its event. Pass the raw body exactly as received (before any JSON
 * parsing). Throws `WebhookVerificationError` when a header is missing or malformed, the timestamp
 * is more than `toleranceSeconds` away from now, or no signature matches (compared in constant time).
 */
export async function verifyWebhook<T = Record<string, unknown>>(
  secret: string,
  headers: HeaderSource,
  rawBody: string | Uint8Array | ArrayBuffer,
  options: VerifyWebhookOptions = {},
): Promise<WebhookEvent<T>> {
  if (typeof secret !== "string" || secret.length === 0) throw new TypeError("verifyWebhook needs the webhook's signing secret");
  const tolerance = options.toleranceSeconds ?? 300;
  const signature = header(headers, "latchkey-signature");
  if (signature === null) throw new WebhookVerificationError("missing_header", "the Latchkey-Signature header is missing");
  const parsed = parseSignatureHeader(signature);
  if (!parsed) throw new WebhookVerificationError("malformed_header", "the Latchkey-Signature header is malformed");
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - parsed.timestamp) > tolerance) {
    throw new WebhookVerificationError("timestamp_out_of_tolerance", `the signature's timestamp is more than ${tolerance} seconds from now`);
  }
  const body = bodyBytes(rawBody);
  const prefix = utf8(`${parsed.timestamp}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix);
  signed.set(body, prefix.length);
  const key = await hmacKey(secret, ["verify"]);
  const crypto = await subtle();
  let valid = false;
  for (const candidate of parsed.signatures) {
    // subtle.verify compares in constant time.
    if (await crypto.verify("HMAC", key, candidate as BufferSource, signed as BufferSource)) valid = true;
  }
  if (!valid) throw new WebhookVerificationError("signature_mismatch", "no signature matches this body and secret");
  let payload: T;
  try {
    payload = JSON.parse(new TextDecoder().decode(body)) as T;
  } catch {
    throw new WebhookVerificationError("invalid_body", "the body is not JSON");
  }
  return { id: header(headers, "latchkey-event-id"), type: header(headers, "latchkey-event"), timestamp: parsed.timestamp, payload };
}

/** Signs `rawBody` as Latchkey does (for tests of your webhook endpoint). */
export async function signWebhook(secret: string, rawBody: string | Uint8Array, timestamp: number = Math.floor(Date.now() / 1000)): Promise<string> {
  const body = typeof rawBody === "string" ? utf8(rawBody) : rawBody;
  const prefix = utf8(`${timestamp}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix);
  signed.set(body, prefix.length);
  const key = await hmacKey(secret, ["sign"]);
  return `t=${timestamp},v1=${toHex(await (await subtle()).sign("HMAC", key, signed as BufferSource))}`;
}
