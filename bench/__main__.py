"""``python -m bench [receiver|pipeline] [--orders N]``: run the benchmarks on a private stack."""
from __future__ import annotations

import argparse
import tempfile

from bench import pipeline, receiver
from cli.stack import Stack

BENCHES = {"receiver": receiver.run, "pipeline": pipeline.run}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("which", nargs="*", help=f"any of {', '.join(sorted(BENCHES))} (default: all)")
    parser.add_argument("--orders", type=int, default=100, help="orders for the pipeline benchmark")
    parser.add_argument("--webhooks", type=int, default=400, help="deliveries for the receiver benchmark")
    args = parser.parse_args()
    unknown = set(args.which) - set(BENCHES)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory(prefix="mlc-bench-") as workdir:
        stack = Stack(workdir, with_flower=False, fusion_sandbox=pipeline.FUSION,
                      worker_concurrency={"invoices": 2, "customers": 2})
        with stack:
            stack.wait_for_workers()
            pipeline.configure_fusion(stack)
            for name in args.which or sorted(BENCHES):
                BENCHES[name](stack, orders=args.orders, webhooks=args.webhooks)


if __name__ == "__main__":
    main()
