// Compiled with `tsc --noEmit` only: the hand-written types accept what the SDK accepts and refuse the rest.
import Latchkey, { open, connectUrl, type ConnectError, type Handle } from "../src/index.js";

const handle: Handle = open({
  linkToken: "lk_link_x",
  latchkeyUrl: "http://127.0.0.1:8080",
  onSuccess(publicToken: string, metadata) {
    const uid: string | undefined = metadata.connector?.uid;
    void [publicToken, uid];
  },
  onExit(error: ConnectError | null, metadata) {
    void [error?.code, metadata.status];
  },
  onEvent(name) {
    void name;
  },
});
handle.close();
Latchkey.open({ sessionToken: "a.b.c", unifiedApi: "crm", serviceId: "salesforce" });
const url: string = connectUrl({ sessionToken: "a.b.c", mode: "page", latchkeyUrl: "http://x" });
void url;
// @ts-expect-error: a link token and a session token are exclusive
open({ linkToken: "lk_link_x", sessionToken: "a.b.c" });
// @ts-expect-error: one of the tokens is required
open({ onSuccess() {} });
