// The example page: ask our backend for a link token, open Latchkey, hand the public token back.
const latchkeyUrl = document.querySelector('meta[name="latchkey-url"]').content;
const { Latchkey } = await import(`${latchkeyUrl}/connect/sdk.js`);
const status = document.getElementById("status");
window.latchkeyEvents = [];

const connect = document.getElementById("connect");
connect.addEventListener("click", async () => {
  status.textContent = "Opening…";
  const response = await fetch("/api/link-token", { method: "POST" });
  const { link_token } = await response.json();
  Latchkey.open({
    linkToken: link_token,
    onEvent(name, metadata) {
      window.latchkeyEvents.push(name);
    },
    async onSuccess(publicToken, metadata) {
      const exchanged = await fetch("/api/exchange", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ public_token: publicToken }),
      });
      const body = await exchanged.json();
      status.textContent = exchanged.ok ? `Connected: ${body.connection_id} (${body.connector})` : `Exchange failed: ${body.error?.code}`;
    },
    onExit(error) {
      status.textContent = error ? `Not connected: ${error.code}` : "Closed";
    },
  });
});
// The button stays disabled until the SDK has loaded: a click before then would be lost, since the
// page's load event does not wait for the SDK's dynamic import.
connect.disabled = false;
