// Compiled with `tsc --noEmit` against the built declarations: the public API reads as documented.
import { Latchkey, UserAuthorizationRequiredError, RateLimitedError, ConnectorNotProxyableError, verifyWebhook, user, type ProviderToken, type Connection, type Page, type AuditEvent } from "@latchkey/server";

async function example(): Promise<void> {
  const latchkey = new Latchkey({ baseUrl: "https://auth.example.com", credential: async () => "oidc", tokenCache: { bufferSeconds: 30 } });
  const token: ProviderToken = await latchkey.getToken("slack/acme", { subject: user("u"), scopes: ["chat:write"], allowBroader: false });
  const when: Date | null = token.expiresAt;
  const page: Page<Connection> = await latchkey.connections.list({ consumerId: "u", limit: 50 });
  for await (const c of latchkey.connections.iterate({ consumerId: "u" })) void c.state;
  for await (const e of latchkey.audit.iterate({ since: new Date(0) })) void e.action;
  const audit: Page<AuditEvent> = await latchkey.audit.list({ action: "proxy_call", connectionId: "conn_1", since: 1_767_225_600, until: new Date(), limit: 100 });
  const first: AuditEvent | undefined = audit.data[0];
  const atMs: number | undefined = first?.atMs;
  const connectionId: string | null | undefined = first?.connectionId;
  // @ts-expect-error: the server has no outcome filter
  await latchkey.audit.list({ outcome: "ok" });
  // @ts-expect-error: an action the trail does not record
  await latchkey.audit.list({ action: "token.issued" });
  const response: Response = await latchkey.proxy("slack/acme", "/api/auth.test", { subject: { type: "app" }, method: "POST", body: { a: 1 }, retries: 2, installationId: "T1" });
  // @ts-expect-error: retries, not a maximum wait
  await latchkey.proxy("slack/acme", "/api/auth.test", { subject: { type: "app" }, retryMaxWaitSeconds: 5 });
  const event = await verifyWebhook<{ type: string }>("secret", response.headers, "{}", { toleranceSeconds: 60 });
  const type: string = event.payload.type;
  try {
    await latchkey.getToken("x/y", { subject: user("u") });
  } catch (error) {
    if (error instanceof UserAuthorizationRequiredError) await latchkey.createLinkToken({ endUser: { id: "u" }, connectors: ["x/y"] });
    if (error instanceof RateLimitedError) void (error.retryAfter satisfies number | null);
    if (error instanceof ConnectorNotProxyableError) void (error.code satisfies string);
  }
  // @ts-expect-error: a user subject needs its id
  await latchkey.getToken("x/y", { subject: { type: "user" } });
  // @ts-expect-error: results are read-only
  token.accessToken = "x";
  void [when, page.nextCursor, type, atMs, connectionId];
}
void example;
