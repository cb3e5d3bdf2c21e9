"""The ``ml-connector`` command line: set-up, operations, the sandboxes and the demo."""
