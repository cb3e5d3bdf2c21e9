"""``python -m bench [receiver|pipeline|pools] [--webhooks N] [--rounds N] [--orders N]``.

The receiver benchmark starts its own servers (no workers: they would compete for the cores it
measures); the pipeline benchmark runs on a private stack with workers and both sandboxes.
"""
from __future__ import annotations

import argparse
import os
import tempfile

from bench import pipeline, pools, receiver
from cli.stack import Stack


def run_receiver(args) -> None:
    receiver.run(webhooks=args.webhooks, rounds=args.rounds)


def run_pipeline(args) -> None:
    with tempfile.TemporaryDirectory(prefix="mlc-bench-") as workdir:
        stack = Stack(workdir, with_flower=False, fusion_sandbox=pipeline.FUSION,
                      worker_concurrency={"invoices": 2, "customers": 2})
        with stack:
            stack.wait_for_workers()
            pipeline.configure_fusion(stack)
            pipeline.run(stack, orders=args.orders)


def run_pools(args) -> None:
    pools.run(orders=args.orders)


BENCHES = {"receiver": run_receiver, "pipeline": run_pipeline, "pools": run_pools}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("which", nargs="*", help=f"any of {', '.join(BENCHES)} (default: all)")
    parser.add_argument("--orders", type=int, default=100, help="orders for the pipeline benchmark")
    parser.add_argument("--webhooks", type=int, default=1000, help="deliveries per round of the receiver benchmark")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the receiver benchmark")
    args = parser.parse_args()
    unknown = set(args.which) - set(BENCHES)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    environment = dict(os.environ)
    for name, bench in BENCHES.items():
        if name in args.which or not args.which:
            os.environ.clear()  # a stack rewrites DATABASE_URL and REDIS_URL: each bench starts from the caller's
            os.environ.update(environment)
            bench(args)


if __name__ == "__main__":
    main()
