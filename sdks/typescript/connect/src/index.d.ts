// Types of @latchkey/connect (the SDK itself is shared/assets/sdk.js, which Latchkey also serves
// at /connect/sdk.js).

/** An error the Connect page reports to `onExit`: a stable code and a message for people. */
export interface ConnectError {
  code: string;
  message: string;
}

/** What `onSuccess` receives beside the public token. */
export interface SuccessMetadata {
  connector?: { uid: string; provider: string; name: string };
  connection_state?: string;
  [key: string]: unknown;
}

/** What `onExit` receives beside the error (`{status: "closed"}` when the person closed the modal). */
export interface ExitMetadata {
  status?: "closed" | (string & {});
  [key: string]: unknown;
}

/** Events the Connect page reports as the person moves through it (`OPEN`, `SELECT_CONNECTOR`, ...). */
export type ConnectEventName = "OPEN" | "SELECT_CONNECTOR" | (string & {});

export interface Callbacks {
  /** Connected: send the public token to your backend, which exchanges it (once). */
  onSuccess?: (publicToken: string, metadata: SuccessMetadata) => void;
  /** Closed without connecting; `error` is null when the person closed the modal. */
  onExit?: (error: ConnectError | null, metadata: ExitMetadata) => void;
  onEvent?: (name: ConnectEventName, metadata: Record<string, unknown>) => void;
}

interface Where {
  /**
   * Where Latchkey runs (its origin is used). Needed when the SDK is bundled into your app;
   * optional when it is imported from Latchkey's own `/connect/sdk.js`.
   */
  latchkeyUrl?: string;
}

/** A link token (`lk_link_...`) from your backend's `createLinkToken`. */
export interface LinkOptions extends Callbacks, Where {
  linkToken: string;
  sessionToken?: undefined;
}

/** A Connect session (Vault) token from your backend's `createSession`, optionally deep-linked to one connector. */
export interface SessionOptions extends Callbacks, Where {
  sessionToken: string;
  linkToken?: undefined;
  /** With `serviceId`: open `/connect/{unifiedApi}/{serviceId}` (one connector). */
  unifiedApi?: string;
  serviceId?: string;
}

export type OpenOptions = LinkOptions | SessionOptions;

/** The open modal. */
export interface Handle {
  /** Closes the modal; `onExit(null, {status: "closed"})` follows. */
  close(): void;
}

/** Opens the Connect page in a modal on this page. Throws a TypeError for a missing or malformed token. */
export declare function open(options: OpenOptions): Handle;

/** The hosted page's URL: `mode: "modal"` (for an iframe of this origin) or `"page"` (a full-page visit). */
export declare function connectUrl(options: (Omit<LinkOptions, keyof Callbacks> | Omit<SessionOptions, keyof Callbacks>) & { mode?: "modal" | "page" }): string;

export declare const Latchkey: { open: typeof open; connectUrl: typeof connectUrl };
export default Latchkey;
