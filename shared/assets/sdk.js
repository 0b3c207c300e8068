// Latchkey Connect SDK: a dependency-free ES module.
//
//   import { Latchkey } from "https://<latchkey>/connect/sdk.js";
//   Latchkey.open({ linkToken, onSuccess(publicToken, metadata) {}, onExit(error, metadata) {}, onEvent(name, metadata) {} });
//
// Bundled into an app (the @latchkey/connect package), it cannot tell where Latchkey is from its
// own URL: pass `latchkeyUrl` then. A Connect session opens the same way with `sessionToken` (and
// `unifiedApi` and `serviceId` for a deep link to one connector).
//
// The Connect page opens in a modal on this page, which keeps focus inside it until it closes and
// then returns focus where it was. Escape closes it, on this page or inside the frame (the page
// relays it). Messages are accepted only from the Connect page's own frame and origin; the page
// posts only to the origin it was opened for.

// Where this module was served from, if Latchkey served it (`/connect/sdk.js`).
const SCRIPT_ORIGIN = (() => {
  try {
    const url = new URL(import.meta.url);
    return url.pathname.endsWith("/connect/sdk.js") ? url.origin : null;
  } catch {
    return null;
  }
})();

function noop() {}

// The element that last had focus. An opener that disables itself while the modal loads (as the
// React ConnectButton does) has lost focus by the time open() runs; it gets it back on close.
let lastFocused = null;
if (typeof document !== "undefined") {
  document.addEventListener("focusin", (event) => {
    lastFocused = event.target;
  }, true);
}

function latchkeyOrigin(latchkeyUrl) {
  if (latchkeyUrl === undefined || latchkeyUrl === null) {
    if (SCRIPT_ORIGIN) return SCRIPT_ORIGIN;
    throw new TypeError("Latchkey.open needs latchkeyUrl (where Latchkey runs) when the SDK is bundled into the app");
  }
  let url;
  try {
    url = new URL(String(latchkeyUrl));
  } catch {
    throw new TypeError("latchkeyUrl is not a URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new TypeError("latchkeyUrl must be http(s)");
  return url.origin;
}

/** The hosted page's URL for a link token or a session token (modal mode unless `mode: "page"`). */
export function connectUrl(options) {
  const { linkToken, sessionToken, unifiedApi, serviceId, latchkeyUrl, mode = "modal" } = options || {};
  const origin = latchkeyOrigin(latchkeyUrl);
  let url;
  if (sessionToken !== undefined) {
    if (typeof sessionToken !== "string" || sessionToken.split(".").length !== 3) {
      throw new TypeError("Latchkey.open needs the sessionToken your backend created");
    }
    if ((unifiedApi === undefined) !== (serviceId === undefined)) throw new TypeError("a deep link needs both unifiedApi and serviceId");
    const path = unifiedApi === undefined ? "/connect" : `/connect/${encodeURIComponent(unifiedApi)}/${encodeURIComponent(serviceId)}`;
    url = new URL(path, origin);
    url.searchParams.set("jwt", sessionToken);
  } else {
    if (typeof linkToken !== "string" || !linkToken.startsWith("lk_link_")) {
      throw new TypeError("Latchkey.open needs the linkToken your backend created");
    }
    url = new URL("/connect", origin);
    url.searchParams.set("link_token", linkToken);
  }
  if (mode === "modal") {
    url.searchParams.set("mode", "modal");
    url.searchParams.set("origin", window.location.origin);
  } else if (mode !== "page") {
    throw new TypeError('mode must be "modal" or "page"');
  }
  return url.toString();
}

/** Opens the Connect modal. Returns `{ close() }`. */
export function open(options) {
  const { onSuccess = noop, onExit = noop, onEvent = noop } = options || {};
  const src = connectUrl({ ...(options || {}), mode: "modal" });
  const origin = new URL(src).origin;
  const active = document.activeElement;
  const previousFocus = active && active !== document.body ? active : lastFocused;
  const overlay = document.createElement("div");
  overlay.setAttribute("role", "dialog");
  overlay.setAttribute("aria-modal", "true");
  overlay.setAttribute("aria-label", "Connect an account");
  overlay.setAttribute("data-latchkey", "modal");
  Object.assign(overlay.style, {
    position: "fixed", inset: "0", zIndex: "2147483647", display: "flex", alignItems: "center",
    justifyContent: "center", background: "rgba(10, 12, 16, 0.55)",
  });
  const frame = document.createElement("iframe");
  frame.src = src;
  frame.title = "Connect an account";
  frame.referrerPolicy = "no-referrer";
  Object.assign(frame.style, {
    width: "min(32rem, 100vw)", height: "min(40rem, 100vh)", border: "0", borderRadius: "12px", background: "#fff",
  });
  // Focusable edges around the frame: Tab past its last control (or Shift+Tab past its first)
  // lands on one, and is sent back into the frame.
  const edges = [document.createElement("div"), document.createElement("div")];
  for (const edge of edges) edge.tabIndex = 0;
  overlay.append(edges[0], frame, edges[1]);

  // While the modal is open the rest of the page is inert (no focus, no clicks, hidden from
  // screen readers), and focus that still lands outside it is sent back to the frame: a keyboard
  // user cannot tab behind the overlay. Everything is restored on close, focus included.
  const madeInert = [];
  function trapFocus() {
    for (const element of document.body.children) {
      if (element !== overlay && !element.inert) {
        element.inert = true;
        madeInert.push(element);
      }
    }
    document.addEventListener("focusin", onFocusIn, true);
  }
  function onFocusIn(event) {
    if (edges.includes(event.target) || !overlay.contains(event.target)) frame.focus();
  }
  function restoreFocus() {
    if (!previousFocus || !previousFocus.isConnected || !previousFocus.focus) return;
    previousFocus.focus();
    if (document.activeElement === previousFocus || !previousFocus.disabled) return;
    // An opener disabled while the modal was open is enabled again once the app has handled
    // onSuccess or onExit (whenever it renders): focus it then, unless focus went elsewhere.
    const enabled = new MutationObserver(() => {
      if (previousFocus.disabled) return;
      enabled.disconnect();
      if (!document.activeElement || document.activeElement === document.body) previousFocus.focus();
    });
    enabled.observe(previousFocus, { attributes: true, attributeFilter: ["disabled"] });
    setTimeout(() => enabled.disconnect(), 5000);
  }

  let closed = false;
  function close(report) {
    if (closed) return;
    closed = true;
    window.removeEventListener("message", onMessage);
    document.removeEventListener("keydown", onKey);
    document.removeEventListener("focusin", onFocusIn, true);
    for (const element of madeInert) element.inert = false;
    overlay.remove();
    restoreFocus();
    if (report) report();
  }
  function onMessage(event) {
    if (event.origin !== origin || event.source !== frame.contentWindow) return;
    const data = event.data;
    if (!data || data.source !== "latchkey") return;
    if (data.type === "event") onEvent(data.name, data.metadata || {});
    else if (data.type === "success") close(() => onSuccess(data.public_token, data.metadata || {}));
    else if (data.type === "exit") close(() => onExit(data.error || null, data.metadata || {}));
  }
  function onKey(event) {
    if (event.key === "Escape") close(() => onExit(null, { status: "closed" }));
  }
  window.addEventListener("message", onMessage);
  document.addEventListener("keydown", onKey);
  document.body.appendChild(overlay);
  trapFocus();
  frame.focus();
  return { close: () => close(() => onExit(null, { status: "closed" })) };
}

export const Latchkey = { open, connectUrl };
export default Latchkey;
