"""gunicorn settings for serving DecisionFlow in production.

    gunicorn -c gunicorn.conf.py 'web:create_app()'

Every value can be changed through the environment (below); DecisionFlow's own settings are
the DECISIONFLOW_* variables of config.py. `decisionflow serve` stays the development server.
Note that gunicorn reads ./gunicorn.conf.py by default when started from this folder, and that
command-line flags win over this file.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from pathlib import Path


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {raw!r}") from None


#: where to listen; behind a load balancer usually 0.0.0.0:8000 or a unix socket
bind = [b.strip() for b in os.environ.get("DECISIONFLOW_BIND", "127.0.0.1:8000").split(",")]
#: worker processes: gunicorn's rule of thumb, 2 x cores + 1 (WEB_CONCURRENCY also works)
workers = _int("DECISIONFLOW_WORKERS", _int("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count() + 1))
#: threads per worker (more than one selects the gthread worker): a page waiting on the
#: database does not hold up the next request
threads = _int("DECISIONFLOW_THREADS", 2)
#: a request slower than this (seconds) kills its worker: generous, for a dossier ZIP or an
#: upload at the size limit, far beyond any page
timeout = _int("DECISIONFLOW_TIMEOUT", 60)
graceful_timeout = _int("DECISIONFLOW_GRACEFUL_TIMEOUT", 30)
keepalive = _int("DECISIONFLOW_KEEPALIVE", 5)

# Each worker builds its own engine and connection pool after the fork: a pool inherited from
# a preloading master would share sockets (PostgreSQL) or file handles (SQLite) between
# processes.
preload_app = False

# Recycle a worker now and then, at different moments, so that a slow leak can never grow
# and the workers never all restart at once. 0 turns it off.
max_requests = _int("DECISIONFLOW_MAX_REQUESTS", 10000)
max_requests_jitter = _int("DECISIONFLOW_MAX_REQUESTS_JITTER", max(max_requests // 10, 0))

# Only these addresses (the load balancers) may tell gunicorn the scheme was HTTPS; the app's
# ProxyFix (DECISIONFLOW_PROXY_HOPS) takes the client address from X-Forwarded-For.
forwarded_allow_ips = os.environ.get("DECISIONFLOW_FORWARDED_ALLOW_IPS", "127.0.0.1")

# Request limits: a line or header this long is an attack, not a form.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# Logs to stdout/stderr for the service manager (systemd, a container runtime) to keep.
accesslog = os.environ.get("DECISIONFLOW_ACCESS_LOG", "-") or None
errorlog = os.environ.get("DECISIONFLOW_ERROR_LOG", "-")
loglevel = os.environ.get("DECISIONFLOW_LOG_LEVEL", "info")
#: client (and the forwarded client), time, request, status, size, duration in microseconds;
#: never the query string's secrets: there are none (tokens travel in a header, not logged)
access_log_format = (
    '%(h)s fwd="%({x-forwarded-for}i)s" [%(t)s] "%(m)s %(U)s %(H)s" %(s)s %(B)s %(D)sus "%(a)s"'
)

# The worker heartbeat file on a RAM disk where there is one: a slow disk must not look like a
# hung worker.
if Path("/dev/shm").is_dir():
    worker_tmp_dir = "/dev/shm"

proc_name = "decisionflow"


def post_worker_init(worker: object) -> None:
    """Tune the garbage collector once the worker has built the app."""
    # What lives as long as the worker (definitions, mappers, compiled statements and
    # templates) is moved out of the collector's sight, so a full collection walks only what
    # requests made. And the youngest generation is collected after 50,000 new objects instead
    # of 700: a decision page makes tens of thousands, nearly all freed by reference counting,
    # and collecting every 700 ran the collector some seventy times a page. Measured
    # in-process on the decision page (1,000 requests over 200 decisions): p99 11.5 ms ->
    # 8.8 ms by the freeze, then 5.1-5.6 ms -> 4.4 ms by the threshold, p50 about 3 % less.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
