// @latchkey/react: the Connect modal as a React hook and a button, over @latchkey/connect.
//
//   <ConnectButton latchkeyUrl="https://auth.example.com" linkToken={() => fetchLinkToken()}
//                  onSuccess={(publicToken) => exchange(publicToken)} onExit={(error) => ...} />
//
// A Connect session (Vault) opens the same way with `sessionToken` (and `unifiedApi` +
// `serviceId` for a deep link), in the modal, or as a full page with `redirectToSession`.

import { useCallback, useEffect, useRef, useState, type ButtonHTMLAttributes, type ReactNode } from "react";
import { connectUrl, open as openModal, type ConnectError, type ConnectEventName, type ExitMetadata, type Handle, type SuccessMetadata } from "@latchkey/connect";

export type { ConnectError, ConnectEventName, ExitMetadata, SuccessMetadata } from "@latchkey/connect";

/** A token, or a function that fetches one from your backend when the modal opens. */
export type TokenSource = string | (() => string | Promise<string>);

export interface LatchkeyConnectOptions {
  /** Where Latchkey runs, e.g. `https://auth.example.com`. */
  latchkeyUrl: string;
  /** A link token (`lk_link_...`) from your backend's `createLinkToken`, or a function fetching one. */
  linkToken?: TokenSource;
  /** A session token from your backend's `createSession`, or a function fetching one (instead of `linkToken`). */
  sessionToken?: TokenSource;
  /** With `serviceId`: deep-link a session to one connector (`/connect/{unifiedApi}/{serviceId}`). */
  unifiedApi?: string;
  serviceId?: string;
  /** Connected: send the public token to your backend, which exchanges it. */
  onSuccess?: (publicToken: string, metadata: SuccessMetadata) => void;
  /** Closed without connecting (`error` null when the person closed it), or the token could not be had (`code: "token_unavailable"`). */
  onExit?: (error: ConnectError | null, metadata: ExitMetadata) => void;
  onEvent?: (name: ConnectEventName, metadata: Record<string, unknown>) => void;
}

export interface LatchkeyConnect {
  /** Opens the modal (fetching the token first if a function was given). Does nothing while open. */
  open: () => Promise<void>;
  /** Closes the modal; `onExit(null, {status: "closed"})` follows. */
  close: () => void;
  /** The modal is open. */
  isOpen: boolean;
  /** The token is being fetched. */
  isLoading: boolean;
}

async function resolveToken(source: TokenSource | undefined): Promise<string | undefined> {
  return typeof source === "function" ? await source() : source;
}

/** The Connect modal, opened on demand. Callbacks are read when they fire, so inline functions are fine. */
export function useLatchkeyConnect(options: LatchkeyConnectOptions): LatchkeyConnect {
  const latest = useRef(options);
  latest.current = options;
  const handle = useRef<Handle | null>(null);
  const opening = useRef(false);
  const mounted = useRef(true);
  const [isOpen, setOpen] = useState(false);
  const [isLoading, setLoading] = useState(false);

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
      const current = handle.current;
      handle.current = null;
      current?.close();
    };
  }, []);

  const settle = useCallback(() => {
    handle.current = null;
    if (mounted.current) setOpen(false);
  }, []);

  const open = useCallback(async () => {
    if (handle.current || opening.current) return;
    opening.current = true;
    const o = latest.current;
    try {
      let linkToken: string | undefined;
      let sessionToken: string | undefined;
      try {
        if (mounted.current) setLoading(true);
        if (o.sessionToken !== undefined) sessionToken = await resolveToken(o.sessionToken);
        else linkToken = await resolveToken(o.linkToken);
      } catch (error) {
        const message = error instanceof Error ? error.message : "the token could not be fetched";
        latest.current.onExit?.({ code: "token_unavailable", message }, { status: "error" });
        return;
      } finally {
        if (mounted.current) setLoading(false);
      }
      if (!mounted.current) return;
      const callbacks = {
        latchkeyUrl: o.latchkeyUrl,
        onSuccess: (publicToken: string, metadata: SuccessMetadata) => {
          settle();
          latest.current.onSuccess?.(publicToken, metadata);
        },
        onExit: (error: ConnectError | null, metadata: ExitMetadata) => {
          settle();
          latest.current.onExit?.(error, metadata);
        },
        onEvent: (name: ConnectEventName, metadata: Record<string, unknown>) => latest.current.onEvent?.(name, metadata),
      };
      handle.current =
        sessionToken !== undefined
          ? openModal({ ...callbacks, sessionToken, ...(o.unifiedApi !== undefined ? { unifiedApi: o.unifiedApi, serviceId: o.serviceId } : {}) })
          : openModal({ ...callbacks, linkToken: linkToken as string });
      setOpen(true);
    } finally {
      opening.current = false;
    }
  }, [settle]);

  const close = useCallback(() => handle.current?.close(), []);
  return { open, close, isOpen, isLoading };
}

export interface ConnectButtonProps extends LatchkeyConnectOptions, Omit<ButtonHTMLAttributes<HTMLButtonElement>, "onClick" | "children" | "type"> {
  children?: ReactNode;
}

/** A button that opens the Connect modal. Disabled while the token is fetched or the modal is open. */
export function ConnectButton(props: ConnectButtonProps): ReactNode {
  const { latchkeyUrl, linkToken, sessionToken, unifiedApi, serviceId, onSuccess, onExit, onEvent, children, disabled, ...rest } = props;
  const connect = useLatchkeyConnect({ latchkeyUrl, linkToken, sessionToken, unifiedApi, serviceId, onSuccess, onExit, onEvent });
  return (
    <button
      {...rest}
      type="button"
      disabled={disabled || connect.isLoading || connect.isOpen}
      aria-busy={connect.isLoading || undefined}
      onClick={() => void connect.open()}
    >
      {children ?? "Connect an account"}
    </button>
  );
}

export interface SessionPageOptions {
  latchkeyUrl: string;
  sessionToken: string;
  unifiedApi?: string;
  serviceId?: string;
}

/** The hosted session page (or a deep link to one connector) as a full-page URL. */
export function sessionUrl(options: SessionPageOptions): string {
  const { latchkeyUrl, sessionToken, unifiedApi, serviceId } = options;
  return connectUrl({ latchkeyUrl, sessionToken, mode: "page", ...(unifiedApi !== undefined ? { unifiedApi, serviceId } : {}) });
}

/** Sends the browser to the hosted session page; it returns to the session's `redirect_uri` (with `public_token` or `error`). */
export function redirectToSession(options: SessionPageOptions): void {
  window.location.assign(sessionUrl(options));
}

/** What the session page put on the `redirect_uri` it returned to: `{publicToken}` or `{error}`, or null. */
export function sessionResult(search: string = window.location.search): { publicToken: string; error?: undefined } | { error: string; publicToken?: undefined } | null {
  const params = new URLSearchParams(search);
  const publicToken = params.get("public_token");
  if (publicToken) return { publicToken };
  const error = params.get("error");
  return error ? { error } : null;
}
