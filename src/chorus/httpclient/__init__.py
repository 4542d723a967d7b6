"""The process's one outbound HTTP client: HTTP/1.1 with keep-alive over asyncio streams.

Every call to a provider, to Ollama and to a search backend goes through `Client`. It speaks
what those calls need: plain and TLS connections (certifi's roots, or SSL_CERT_FILE and
SSL_CERT_DIR), an `http://` proxy from HTTP(S)_PROXY / ALL_PROXY / NO_PROXY, fixed-length,
chunked and close-delimited answers (httptools parses them), gzip and deflate bodies, and a
pool of connections per origin. It follows no redirects and keeps no cookies. `Limits` caps what
an answer may cost (body, headers, one SSE event, connections per origin) and `Timeouts.total`
bounds a whole call; going past one is an `HTTPError` like any other failure.

It replaces httpx2, which spent about 0.45 ms of CPU per keep-alive call on work these calls
never use; docs/architecture.md has the measurements.
"""

from chorus.httpclient.client import Client
from chorus.httpclient.connection import Response
from chorus.httpclient.errors import (
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    HTTPError,
    LimitExceeded,
    PoolTimeout,
    ProtocolError,
    Timeout,
)
from chorus.httpclient.limits import Limits, Timeouts
from chorus.httpclient.url import URL

__all__ = ["URL", "Client", "ConnectError", "ConnectTimeout", "DeadlineExceeded", "HTTPError",
           "LimitExceeded", "Limits", "PoolTimeout", "ProtocolError", "Response", "Timeout",
           "Timeouts"]
