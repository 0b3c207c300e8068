"""A loopback HTTP stand-in for Latchkey: answers scripted routes and records every request."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import parse_qsl, urlsplit


def materialize(value: Any, now: Callable[[], float]) -> Any:
    """Replaces {"$time": seconds} with the RFC 3339 time `seconds` after `now()`."""
    if isinstance(value, list):
        return [materialize(v, now) for v in value]
    if isinstance(value, dict):
        if list(value) == ["$time"]:
            return datetime.fromtimestamp(now() + value["$time"], tz=timezone.utc).isoformat().replace("+00:00", "Z")
        return {k: materialize(v, now) for k, v in value.items()}
    return value


class Standin:
    def __init__(self, routes: List[Dict[str, Any]], now: Callable[[], float] = time.time) -> None:
        self.requests: List[Dict[str, Any]] = []
        self._served = [0] * len(routes)
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                try:
                    parsed: Optional[Any] = json.loads(raw) if raw else None
                except ValueError:
                    parsed = None
                with standin._lock:
                    standin.requests.append(
                        {
                            "method": self.command,
                            "path": parts.path,
                            "query": query,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": raw,
                            "json": parsed,
                        }
                    )
                    index = next(
                        (
                            i
                            for i, r in enumerate(routes)
                            if r["method"] == self.command
                            and r["path"] == parts.path
                            and all(query.get(k) == str(v) for k, v in (r.get("query") or {}).items())
                        ),
                        None,
                    )
                    if index is not None:
                        route = routes[index]
                        answers = route.get("sequence") or [route]
                        answer = answers[min(standin._served[index], len(answers) - 1)]
                        standin._served[index] += 1
                if index is None:
                    body = json.dumps({"error": {"code": "route_not_found", "message": f"no route for {parts.path}"}}).encode()
                    self.send_response(404)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                delay = answer.get("delay_ms", route.get("delay_ms", 0))
                if delay:
                    time.sleep(delay / 1000)
                headers = dict(answer.get("headers") or {})
                if "json" in answer:
                    payload = json.dumps(materialize(answer["json"], now)).encode()
                    headers.setdefault("content-type", "application/json")
                else:
                    payload = str(answer.get("text", "")).encode()
                self.send_response(answer.get("status", 200))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
