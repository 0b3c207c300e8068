// The one place that reaches for Web Crypto: `globalThis.crypto.subtle` (Node 20+, Deno, Bun,
// browsers, workers), else Node's `node:crypto` webcrypto for older embeddings.

let subtlePromise: Promise<SubtleCrypto> | undefined;

export function subtle(): Promise<SubtleCrypto> {
  if (!subtlePromise) {
    const global = (globalThis as { crypto?: Crypto }).crypto;
    subtlePromise = global?.subtle
      ? Promise.resolve(global.subtle)
      : import(/* webpackIgnore: true */ "node:crypto" as string).then((m: { webcrypto: Crypto }) => m.webcrypto.subtle);
  }
  return subtlePromise;
}

const encoder = new TextEncoder();

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** The bytes of lower- or upper-case hex, or null when it is not hex. */
export function fromHex(hex: string): Uint8Array | null {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) return null;
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  return Array.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function hmacKey(secret: string, usages: KeyUsage[]): Promise<CryptoKey> {
  return (await subtle()).importKey("raw", utf8(secret) as BufferSource, { name: "HMAC", hash: "SHA-256" }, false, usages);
}
