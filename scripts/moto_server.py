"""moto_server for Latchkey's tests: the DynamoDB and KMS APIs on 127.0.0.1.

Real DynamoDB applies each conditional write atomically. moto's own server answers requests on
many threads and checks a condition and writes the item in separate steps, so two concurrent
conditional writes can both pass. Latchkey's conformance suite races 20 and 50 writers on purpose,
so this launcher serializes request handling: moto then keeps DynamoDB's per-request atomicity,
and the tests measure Latchkey's conditions, not moto's races. Everything else is moto's `main`.
"""

import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    port = int(sys.argv[1])
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple("127.0.0.1", port, serialized, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
