// The test page: @latchkey/react's button for a link token and for a session, reporting to window.results.
import { createRoot } from "react-dom/client";
import { useState } from "react";
import { ConnectButton, useLatchkeyConnect, sessionUrl } from "@latchkey/react";

const latchkeyUrl = document.querySelector('meta[name="latchkey-url"]').content;
window.results = { events: [], success: [], exit: [], renders: 0 };

async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body ?? {}) });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function HookUser() {
  const [status, setStatus] = useState("idle");
  const connect = useLatchkeyConnect({
    latchkeyUrl,
    linkToken: async () => (await post("/api/link-token")).link_token,
    onSuccess: () => setStatus("hook-success"),
    onExit: (error, metadata) => setStatus(`hook-exit:${error ? error.code : metadata.status}`),
  });
  return (
    <p>
      <button id="hook-open" onClick={() => connect.open()}>Open with the hook</button>
      <span id="hook-state">{connect.isOpen ? "open" : status}</span>
    </p>
  );
}

function App() {
  window.results.renders += 1;
  const [session, setSession] = useState(null);
  return (
    <main>
      <ConnectButton
        id="connect"
        className="primary"
        latchkeyUrl={latchkeyUrl}
        linkToken={async () => (await post("/api/link-token")).link_token}
        onEvent={(name) => window.results.events.push(name)}
        onSuccess={async (publicToken, metadata) => {
          window.results.success.push({ publicToken, metadata });
          window.results.exchanged = await post("/api/exchange", { public_token: publicToken });
        }}
        onExit={(error, metadata) => window.results.exit.push({ error, metadata })}
      />
      <ConnectButton id="broken" latchkeyUrl={latchkeyUrl} linkToken={() => Promise.reject(new Error("backend down"))} onExit={(error) => window.results.exit.push({ error })}>
        Broken backend
      </ConnectButton>
      <HookUser />
      <button id="make-session" onClick={async () => setSession((await post("/api/session")).session_token)}>Make a session</button>
      {session && (
        <>
          <ConnectButton
            id="session"
            latchkeyUrl={latchkeyUrl}
            sessionToken={session}
            onSuccess={(publicToken) => window.results.success.push({ publicToken, session: true })}
            onExit={(error, metadata) => window.results.exit.push({ error, metadata, session: true })}
          >
            Open the session
          </ConnectButton>
          <a id="deep-link" href={sessionUrl({ latchkeyUrl, sessionToken: session, unifiedApi: "crm", serviceId: "salesforce" })}>deep link</a>
        </>
      )}
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);
