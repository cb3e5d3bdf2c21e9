"""Task names are a public API: other apps call them by name. Changing this set is a release note."""
from workers.app import app

PUBLIC_TASKS = {
    "mlc.customers.process_webhook",
    "mlc.invoices.process_webhook",
    "mlc.credit_memos.process_webhook",
    "mlc.inbox.replay",
    "mlc.inbox.sweep",
    "mlc.fusion.poll_invoices",
    "mlc.fusion.poll_credit_memos",
    "mlc.fusion.poll_receipts",
    "mlc.fusion.poll_customer_accounts",
    "mlc.fusion.push_receipt",
    "mlc.inbox.purge_bodies",
    "mlc.audit.seal",
    "mlc.shopify.reconcile",
    "mlc.shopify.keep_tokens",
}


def test_registered_task_names_are_exactly_the_public_api():
    app.loader.import_default_modules()
    assert {name for name in app.tasks if name.startswith("mlc.")} == PUBLIC_TASKS


def test_every_public_task_routes_to_a_declared_queue():
    queues = {q.name for q in app.conf.task_queues}
    for name in PUBLIC_TASKS:
        route = app.amqp.router.route({}, name)
        assert route["queue"].name in queues, name
