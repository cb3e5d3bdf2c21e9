"""Faithful simulators of Shopify and Oracle Fusion for the demo, the tests and the benchmarks.

Nothing in ``connector``, ``workers`` or ``web`` imports this package: the connector talks to the
sandboxes only over HTTP, exactly as it talks to the real systems.
"""
