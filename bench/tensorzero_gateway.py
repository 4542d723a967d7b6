"""Start TensorZero's gateway (the Rust gateway inside its PyPI wheel) and keep it running.

    bench/.tensorzero-venv/bin/python bench/tensorzero_gateway.py CONFIG.toml URL_FILE

Run by bench/gateway.py with the interpreter of TensorZero's own virtual environment. The
gateway picks a free loopback port; its root URL is written to URL_FILE once it answers.
It stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import tensorzero  # type: ignore[import-not-found]  # only in bench/.tensorzero-venv


def main() -> None:
    config, url_file = sys.argv[1], Path(sys.argv[2])
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    gateway = tensorzero._start_http_gateway(config_file=config, clickhouse_url=None,
                                             postgres_url=None, valkey_url=None,
                                             async_setup=False)
    root = gateway.base_url.removesuffix("/openai/v1")
    partial = url_file.with_suffix(".partial")
    partial.write_text(root)
    partial.rename(url_file)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    gateway.close()


if __name__ == "__main__":
    main()
