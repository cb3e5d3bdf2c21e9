"""``python -m bench [receiver|slow|pipeline|pools|throughput|poll|reconcile|backfill|shopify|share|logs|chaos] [--webhooks N] [--rounds N] [--orders N] [--refunds N]``.

The receiver benchmark starts its own servers (no workers: they would compete for the cores it
measures); the pipeline benchmark runs on a private stack with workers and both sandboxes; the
chaos run (not part of the default set: it takes a quarter of an hour or more) breaks a stack of
its own, on a PostgreSQL cluster and a Redis it starts for itself, and exits 1 when an invariant fails.
"""
from __future__ import annotations

import argparse
import os
import tempfile

from bench import (
    backfill,
    chaos,
    logs,
    pipeline,
    poll,
    pools,
    receiver,
    reconcile,
    share,
    shopify_budget,
    slow,
    throughput,
)
from cli.stack import Stack


def run_receiver(args) -> None:
    receiver.run(webhooks=args.webhooks, rounds=args.rounds, threads=args.threads)


def run_slow(args) -> None:
    slow.run(deliveries_count=args.deliveries, stalled=args.stalled, deadline=args.deadline)


def _on_stack(run, *, extra_env: dict | None = None, **concurrency: int) -> None:
    """``run(stack)`` on a private stack whose pod is the pipeline's slow Fusion (``pipeline.FUSION``)."""
    with tempfile.TemporaryDirectory(prefix="mlc-bench-") as workdir:
        stack = Stack(workdir, with_flower=False, fusion_sandbox=pipeline.FUSION, extra_env=extra_env or {},
                      worker_concurrency=concurrency)
        with stack:
            stack.wait_for_workers()
            pipeline.configure_fusion(stack)
            run(stack)


def run_pipeline(args) -> None:
    _on_stack(lambda stack: pipeline.run(stack, orders=args.orders), invoices=2, customers=2)


def run_poll(args) -> None:
    _on_stack(lambda stack: poll.run(stack, orders=args.orders or 20), extra_env=dict(poll.QUIET))


def run_reconcile(args) -> None:
    """On a stack with beat's reconciliations an hour apart (``reconcile.QUIET``)."""
    _on_stack(lambda stack: reconcile.run(stack, orders=args.orders), extra_env=dict(reconcile.QUIET),
              invoices=2, customers=2)


def run_backfill(args) -> None:
    _on_stack(lambda stack: backfill.run(stack, orders=args.orders), extra_env=dict(backfill.QUIET),
              invoices=2, customers=2)


def run_pools(args) -> None:
    pools.run(orders=args.orders)


def run_throughput(args) -> None:
    throughput.run(orders=args.orders, rates=[float(r) for r in args.rate.split(",")], seconds=args.seconds,
                   budget_rate=args.budget_rate, budget_orders=args.budget_orders, parts=args.parts.split(","),
                   slow_ms=args.slow_ms, processes=tuple(int(n) for n in args.invoice_processes.split(",")))


def run_logs(args) -> None:
    logs.run(rounds=args.rounds + 2)


def run_shopify(args) -> None:
    shopify_budget.run(calls=args.orders)


def run_share(args) -> None:
    share.run(orders=args.orders, rate=args.share_rate)


BENCHES = {"receiver": run_receiver, "slow": run_slow, "pipeline": run_pipeline, "pools": run_pools, "throughput": run_throughput,
           "poll": run_poll, "logs": run_logs, "reconcile": run_reconcile, "backfill": run_backfill, "shopify": run_shopify,
           "share": run_share}


def run_chaos(args) -> None:
    status = chaos.run(orders=args.orders, refunds=args.refunds, rate=args.order_rate, seed=args.seed,
                       timeout=args.timeout)
    if status:
        raise SystemExit(status)


#: Run only when named.
ON_REQUEST = {"chaos": run_chaos}
DEFAULT_ORDERS = {"chaos": chaos.ORDERS, "share": share.ORDERS}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("which", nargs="*", help=f"any of {', '.join(BENCHES)} (default: all), or chaos")
    parser.add_argument("--orders", type=int, default=None,
                        help=f"orders of the pipeline benchmark (default 100; share: {share.ORDERS}; chaos: {chaos.ORDERS})")
    parser.add_argument("--refunds", type=int, default=chaos.REFUNDS, help="refunds of the chaos run")
    parser.add_argument("--order-rate", type=float, default=chaos.RATE, help="orders/s the chaos run places")
    parser.add_argument("--seed", type=int, default=1, help="seed of the chaos run")
    parser.add_argument("--timeout", type=float, default=7200, help="seconds the chaos run waits to be quiet")
    parser.add_argument("--webhooks", type=int, default=1000, help="deliveries per round of the receiver benchmark")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the receiver benchmark")
    parser.add_argument("--threads", type=int, default=receiver.THREADS,
                        help="deliveries in flight (client threads) in the receiver benchmark")
    parser.add_argument("--deliveries", type=int, default=1500, help="deliveries per part of the slow benchmark")
    parser.add_argument("--stalled", type=int, default=slow.STALLED, help="stalled connections of the slow benchmark")
    parser.add_argument("--deadline", type=float, default=60.0,
                        help="seconds after which a part of the slow benchmark sends no more")
    parser.add_argument("--rate", default="20", help="orders/s of the throughput benchmark's latency part "
                        "(several: 5,10,20)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the latency part places orders")
    parser.add_argument("--budget-rate", type=float, default=30.0, help="the Fusion rate limit R of the budget part")
    parser.add_argument("--budget-orders", type=int, default=300, help="orders of the budget part")
    parser.add_argument("--invoice-processes", default="1,2",
                        help="worker processes on the invoices queue in the calls, latency and in-flight parts "
                        "(several: each in turn, then their p95s side by side)")
    parser.add_argument("--slow-ms", type=int, default=1500, help="Fusion's latency in the in-flight part")
    parser.add_argument("--share-rate", type=float, default=share.RATE,
                        help="the Fusion rate limit R of the share benchmark")
    parser.add_argument("--parts", default=",".join(throughput.PARTS), help="parts of the throughput benchmark")
    args = parser.parse_args()
    unknown = set(args.which) - set(BENCHES) - set(ON_REQUEST)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    environment = dict(os.environ)
    for name, bench in {**BENCHES, **ON_REQUEST}.items():
        if name in args.which or (not args.which and name in BENCHES):
            os.environ.clear()  # a stack rewrites DATABASE_URL and REDIS_URL: each bench starts from the caller's
            os.environ.update(environment)
            bench(argparse.Namespace(**{**vars(args), "orders": args.orders or DEFAULT_ORDERS.get(name, 100)}))


if __name__ == "__main__":
    main()
