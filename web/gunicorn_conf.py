"""gunicorn's settings for the public receiver, in one place: ``gunicorn -c python:web.gunicorn_conf``.

The Procfile, the deploy files, the demo and test stack (``cli.stack``) and the benchmarks all run
the receiver with this module; only where it listens (``--bind``) is given on the command line.

Why gevent: a delivery spends most of its time waiting (for the request's bytes, PostgreSQL's
commit, Redis). With threads, a worker serves as many connections as it has threads, and eight
clients that send headers and then stall took 2 workers × 4 threads offline. A gevent worker
serves each connection in a greenlet: up to ``worker_connections`` per worker, so hundreds of
slow or stalled connections leave room for Shopify's deliveries (BENCHMARKS.md, "Slow
connections"). A worker stores its deliveries one commit at a time, each commit taking all that
arrived while the previous one ran (``web/group_commit.py``); the others wait there without
holding a thread, and a connection of the pool (``MLC_DB_POOL_SIZE`` + ``MLC_DB_MAX_OVERFLOW`` per
worker) is left for the shops' key reads and the refusals' audit rows.
"""
import os

#: Processes; gunicorn's own variable, as on Heroku-style platforms.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gevent"
#: Open connections per worker, stalled ones included (a file descriptor each); past it, new
#: connections wait in the listen backlog.
worker_connections = 1000
#: Seconds without a heartbeat before the master restarts a worker (a gevent worker beats from its
#: main greenlet: a stalled client never delays it, a request that computes without yielding would).
timeout = 30
#: Seconds a stopping worker finishes the requests it has; below the deploy files' stop timeouts
#: (systemd TimeoutStopSec, Kubernetes terminationGracePeriodSeconds: 40).
graceful_timeout = 30
#: Seconds an idle keep-alive connection stays open.
keepalive = 5
#: Error and access lines in the processes' own format (JSON by default, MLC_LOG_FORMAT), with the
#: request's correlation and never a query string (web/gunicorn_logs.py); access lines to stdout.
logger_class = "web.gunicorn_logs.Logger"
accesslog = "-"


def post_fork(server, worker):
    """psycopg2 cooperative in each gevent worker, before the app opens a connection (and left
    alone when ``--worker-class`` on the command line chose threads)."""
    if server.cfg.worker_class_str == "gevent":
        from connector import green
        green.patch()
