"""CPU per access-log line: the record AccessMiddleware writes, through the configured handler.

    PYTHONPATH=src .venv/bin/python bench/accesslog.py [--lines 10000]

Writes JSON lines (the format of a server whose stderr is not a terminal) to a temporary file,
with one configured provider secret to scrub, and prints the process CPU time per line: through
logging's formatter chain, and as `logs.log_line` writes the same line directly.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time

from chorus import logs

FIELDS = {"request_id": "req_V6WsTF1jVaS0MJfZ9442J7", "method": "POST",
          "route": "/v1/chat/completions", "path": "/v1/chat/completions", "status": 200,
          "latency_ms": 1.3, "mode": "smart_chat", "user_id": "usr_abcdefabcdefabcdef",
          "key_id": "key_abcdefabcdefabcd"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryFile("w") as out:
        logs.configure("info", "json", ["prov-Zq8xY2mW7vK4nB1cR9tL"], stream=out)
        log = logging.getLogger("chorus.access")
        for _ in range(args.rounds):
            started = time.process_time()
            for _ in range(args.lines):
                log.log(logging.INFO, "request", extra=FIELDS)
            micros = (time.process_time() - started) / args.lines * 1e6
            started = time.process_time()
            for _ in range(args.lines):
                logs.log_line(log, logging.INFO, "request", FIELDS)
            direct = (time.process_time() - started) / args.lines * 1e6
            print(f"{micros:6.1f} µs of CPU per access line through the formatter, "
                  f"{direct:6.1f} µs written directly (logs.log_line, what the server does)")


if __name__ == "__main__":
    main()
