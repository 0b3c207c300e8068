// Latchkey Connect SDK: a dependency-free ES module.
//
//   import { Latchkey } from "https://<latchkey>/connect/sdk.js";
//   Latchkey.open({ linkToken, onSuccess(publicToken, metadata) {}, onExit(error, metadata) {}, onEvent(name, metadata) {} });
//
// The Connect page opens in a modal on this page. Messages are accepted only from the Connect
// page's own frame and origin; the page posts only to the origin it was opened for.

const LATCHKEY_ORIGIN = new URL(import.meta.url).origin;

function noop() {}

/** Opens the Connect modal. Returns `{ close() }`. */
export function open(options) {
  const { linkToken, onSuccess = noop, onExit = noop, onEvent = noop } = options || {};
  if (typeof linkToken !== "string" || !linkToken.startsWith("lk_link_")) {
    throw new TypeError("Latchkey.open needs the linkToken your backend created");
  }
  const previousFocus = document.activeElement;
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
  const url = new URL("/connect", LATCHKEY_ORIGIN);
  url.searchParams.set("link_token", linkToken);
  url.searchParams.set("mode", "modal");
  url.searchParams.set("origin", window.location.origin);
  frame.src = url.toString();
  frame.title = "Connect an account";
  frame.referrerPolicy = "no-referrer";
  Object.assign(frame.style, {
    width: "min(32rem, 100vw)", height: "min(40rem, 100vh)", border: "0", borderRadius: "12px", background: "#fff",
  });
  overlay.appendChild(frame);

  let closed = false;
  function close(report) {
    if (closed) return;
    closed = true;
    window.removeEventListener("message", onMessage);
    document.removeEventListener("keydown", onKey);
    overlay.remove();
    if (previousFocus && previousFocus.focus) previousFocus.focus();
    if (report) report();
  }
  function onMessage(event) {
    if (event.origin !== LATCHKEY_ORIGIN || event.source !== frame.contentWindow) return;
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
  frame.focus();
  return { close: () => close(() => onExit(null, { status: "closed" })) };
}

export const Latchkey = { open };
export default Latchkey;
