"""Pure translation between Shopify documents and Fusion payloads: no I/O, Decimal money."""
