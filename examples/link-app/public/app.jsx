// The example page: a Connect button from @latchkey/react. It asks our backend for a link token,
// opens Latchkey's modal, and hands the public token back to our backend, which exchanges it.
import { useState } from "react";
import { createRoot } from "react-dom/client";
import { ConnectButton } from "@latchkey/react";

const latchkeyUrl = document.querySelector('meta[name="latchkey-url"]').content;
window.latchkeyEvents = [];

async function fetchLinkToken() {
  const response = await fetch("/api/link-token", { method: "POST" });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error?.code ?? "the link token was refused");
  return body.link_token;
}

function App() {
  const [status, setStatus] = useState("");
  return (
    <>
      <ConnectButton
        id="connect"
        latchkeyUrl={latchkeyUrl}
        linkToken={() => {
          setStatus("Opening…");
          return fetchLinkToken();
        }}
        onEvent={(name) => window.latchkeyEvents.push(name)}
        onSuccess={async (publicToken) => {
          const exchanged = await fetch("/api/exchange", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ public_token: publicToken }),
          });
          const body = await exchanged.json();
          setStatus(exchanged.ok ? `Connected: ${body.connection_id} (${body.connector})` : `Exchange failed: ${body.error?.code}`);
        }}
        onExit={(error) => setStatus(error ? `Not connected: ${error.code}` : "Closed")}
      >
        Connect an account
      </ConnectButton>
      <p id="status" role="status" aria-live="polite">
        {status}
      </p>
    </>
  );
}

createRoot(document.getElementById("app")).render(<App />);
