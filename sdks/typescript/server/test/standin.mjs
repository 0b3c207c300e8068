// A loopback HTTP stand-in for Latchkey: answers scripted routes and records every request.
import { createServer } from "node:http";

/** Replaces {"$time": seconds} with the RFC 3339 time `seconds` after `nowMs()`. */
export function materialize(value, nowMs) {
  if (Array.isArray(value)) return value.map((v) => materialize(v, nowMs));
  if (value && typeof value === "object") {
    if (Object.keys(value).length === 1 && "$time" in value) return new Date(nowMs() + value.$time * 1000).toISOString();
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, materialize(v, nowMs)]));
  }
  return value;
}

function queryMatches(expected, actual) {
  if (!expected) return true;
  return Object.entries(expected).every(([k, v]) => actual.get(k) === String(v));
}

/** Starts the stand-in for `routes` (see sdks/conformance/README.md); `nowMs` is the clock for $time. */
export async function startStandin(routes, nowMs = Date.now) {
  const requests = [];
  const state = routes.map((route) => ({ route, served: 0 }));
  const server = createServer(async (req, res) => {
    let raw = "";
    for await (const chunk of req) raw += chunk;
    const url = new URL(req.url, "http://standin");
    const rawPath = req.url.split("?")[0];
    let json;
    try {
      json = raw ? JSON.parse(raw) : undefined;
    } catch {
      json = undefined;
    }
    requests.push({ method: req.method, path: rawPath, query: Object.fromEntries(url.searchParams), headers: req.headers, body: raw, json });
    const match = state.find(({ route }) => route.method === req.method && route.path === rawPath && queryMatches(route.query, url.searchParams));
    if (!match) {
      res.writeHead(404, { "content-type": "application/json" });
      return res.end(JSON.stringify({ error: { code: "route_not_found", message: `no route for ${rawPath}` } }));
    }
    const answers = match.route.sequence ?? [match.route];
    const answer = answers[Math.min(match.served, answers.length - 1)];
    match.served += 1;
    const delay = answer.delay_ms ?? match.route.delay_ms ?? 0;
    if (delay) await new Promise((r) => setTimeout(r, delay));
    const headers = { ...(answer.headers ?? {}) };
    let body = "";
    if (answer.json !== undefined) {
      body = JSON.stringify(materialize(answer.json, nowMs));
      headers["content-type"] ??= "application/json";
    } else if (answer.text !== undefined) body = answer.text;
    res.writeHead(answer.status ?? 200, headers);
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
