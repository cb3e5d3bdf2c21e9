"""Every setting ml-connector reads from its environment, in one place (12-factor).

Processes build one :class:`Settings` at start-up with :func:`load_settings`; nothing else reads
``os.environ``. The accounting mapping (business unit, sources, memo lines, GL accounts) is not an
environment concern: it lives in a TOML file whose path is a setting, see :mod:`connector.mapping.config`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MAPPING_FILE = Path(__file__).parent / "defaults" / "mapping.toml"
CONCURRENCY_PREFIX = "MLC_CONCURRENCY_"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _parsed(env, name: str, default, parse, what: str):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return parse(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {what}, got {raw!r}") from None


def _int(env, name: str, default: int) -> int:
    return _parsed(env, name, default, int, "a whole number")


def _float(env, name: str, default: float) -> float:
    return _parsed(env, name, default, float, "a number")


def _choice(env, name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _at_least(minimum: int, name: str, value: int) -> int:
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _int_at_least(env, name: str, default: int, minimum: int) -> int:
    return _at_least(minimum, name, _int(env, name, default))


def _positive(name: str, value: float) -> float:
    if value <= 0:
        raise ConfigError(f"{name} must be more than 0, got {value}")
    return value


def _share(name: str, value: float) -> float:
    """A fraction in (0, 1]."""
    if not 0 < value <= 1:
        raise ConfigError(f"{name} must be more than 0 and at most 1, got {value}")
    return value


def _non_negative(name: str, value: float) -> float:
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {value}")
    return value


def _pairs(env, name: str) -> dict[str, str]:
    """``key=value,key=value`` (whitespace around each part ignored)."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in (env.get(name) or "").split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"{name} must be key=value pairs separated by commas, got {part!r}")
        out[key.strip()] = value.strip()
    return out


def _url(env, name: str) -> str:
    value = (env.get(name) or "").strip().rstrip("/")
    if value and not value.startswith(("https://", "http://")):
        raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
    return value


def _default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / '.mlc' / 'mlc.db'}"


def _default_export_dir() -> Path:
    return Path.cwd() / ".mlc" / "privacy-exports"


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=_default_database_url)
    redis_url: str = "redis://127.0.0.1:6379/0"
    encryption_keys: tuple[str, ...] = ()
    mapping_file: Path = DEFAULT_MAPPING_FILE
    log_level: str = "INFO"
    # Every process logs one JSON object a line (a log shipper reads it as it is), or text for a
    # person (the demo). Refused webhooks are logged at most this many lines per window for each
    # shop and reason, then one line says how many more were refused.
    log_format: str = "json"
    log_refusals_limit: int = 10
    log_refusals_window_seconds: int = 60

    # HTTP to Shopify and Fusion: every call has a connect and a read timeout.
    http_connect_timeout: float = 5.0
    http_read_timeout: float = 30.0
    # Shopify and Fusion are called over https only; the sandboxes (demo, tests) speak http.
    allow_http: bool = False

    # Fusion publishes no rate limit; this budget is shared by every worker on every machine.
    fusion_rate_per_second: float = 10.0
    fusion_burst: int = 20
    # The budget shared out between the shops active in the last window (``connector.fair_share``):
    # a shop over its share yields to one that waits, so a burst cannot starve a quiet shop.
    fusion_fair_share: bool = True
    fusion_share_window_seconds: int = 60
    fusion_framework_version: int = 4
    # Shopify's GraphQL budget per shop (a leaky bucket of query cost points, Standard plan:
    # 100 points/s, 2000 points). Each response's ``throttleStatus`` corrects both; these are
    # where a shop starts before its first answer.
    shopify_restore_rate: float = 100.0
    shopify_bucket_size: int = 2000
    # The longest a call waits for budget (a THROTTLED answer, a 429, an empty shared bucket)
    # before it gives up and its task is retried later instead.
    shopify_max_wait_seconds: float = 30.0
    # Expiring Shopify tokens (expiring offline, client credentials) are refreshed this long
    # before they expire; beat's keepalive looks for such tokens every so often.
    shopify_refresh_before_seconds: int = 300
    shopify_token_keepalive_seconds: int = 300
    # How receipts are applied to invoices: REST ``applyReceipt`` (documented from release 26C),
    # or SOAP ``createApplyReceipt`` for pods without it.
    fusion_receipt_apply: str = "rest"
    # How receipts are unapplied (refunds and edits down of paid orders): SOAP
    # ``createUnapplyReceipt`` on every release, or REST ``unapplyReceipt`` (from release 26D).
    fusion_receipt_unapply: str = "soap"
    # How a receipt entered in Fusion that pays part of a Shopify order's balance reaches Shopify
    # (shops with push_fusion_receipts on): ``manual_payment`` (``orderCreateManualPayment`` with
    # the amount; in Shopify's unstable 2025-09 schema, not in 2025-01: whether the shop's API
    # version has it is not confirmed) or ``off`` (only full payments are pushed, by
    # ``orderMarkAsPaid``).
    fusion_receipt_partial: str = "manual_payment"
    # Whether an order cancelled before it was ever invoiced still gets an invoice (and its credit).
    invoice_cancelled_orders: bool = False
    # Whether Shopify test orders (``"test": true``, a test gateway's) are booked as real invoices.
    invoice_test_orders: bool = False

    # Exactly-once machinery.
    max_attempts: int = 8
    retry_backoff_max_seconds: int = 300
    lock_timeout_seconds: int = 30  # how long a dead worker can keep an object locked
    # The longest a create may be in flight (rate-limit wait, retries of refused connections,
    # the read timeout): until then no other worker posts for the same object.
    create_lease_seconds: int = 300
    # Hard limit of one task; an attempt's inbox lease lasts as long.
    task_time_limit_seconds: int = 600
    # How soon a document that waits for another (a refund for its invoice) looks again.
    dependency_wait_seconds: int = 15
    inbox_sweep_interval_seconds: int = 60
    inbox_stale_after_seconds: int = 120
    # Fusion has no webhooks: beat polls what changed there since each resource's watermark
    # (``connector.services.fusion_poll``), each resource on its own schedule.
    fusion_poll_invoices_seconds: int = 60
    fusion_poll_credit_memos_seconds: int = 300
    fusion_poll_receipts_seconds: int = 60
    fusion_poll_accounts_seconds: int = 900
    # How far back of its watermark each poll reads again: a change committed in Fusion with a
    # LastUpdateDate older than one already read (a long transaction) is still seen.
    fusion_poll_overlap_seconds: int = 120
    fusion_poll_page_size: int = 100
    # Shopify's webhooks get lost: beat reconciles every shop this often, over the orders,
    # refunds and customers updated in the last so many days (``connector.services.reconcile``).
    shopify_reconcile_every_seconds: int = 900
    shopify_reconcile_days: float = 3.0
    # The part of a shop's Shopify restore rate a backfill may spend (``connector.services.backfill``):
    # the rest is left to the workers' own reads of live orders, which share the same bucket.
    backfill_budget_share: float = 0.5
    # How long the receiver keeps a shop and its webhook secrets without reading them again. A
    # signature they do not match is checked against a fresh read at once, so a new secret works
    # with its first webhook; this bounds how long a secret that was dropped still verifies.
    shop_cache_ttl_seconds: int = 5
    # The receiver, the one internet-facing part. A body over this many bytes is answered 413
    # before more of it is read (chunked or not).
    webhook_max_bytes: int = 5 * 1024 * 1024
    # Shopify retries a delivery for 4 hours, each time with the Triggered-At of the first try:
    # an older delivery is a replay, refused and recorded. A Triggered-At further ahead of our
    # clock than the skew is refused too (Shopify tries again once the clocks agree).
    webhook_max_age_seconds: int = 6 * 3600
    webhook_max_skew_seconds: int = 300
    # Shopify signs with the old client secret for up to an hour after a rotation: the previous
    # secret verifies for this long after ``shops add`` stored a new one, never after.
    secret_rotation_window_seconds: int = 3600
    # /metrics keeps its counts in Redis as events happen; the admin app counts again from the
    # database at most this often, to correct what a killed process or a Redis outage lost.
    metrics_recount_seconds: int = 300

    # Worker pools. Tasks mostly wait on Shopify and Fusion, so a worker runs them in threads:
    # one process keeps dozens of calls in flight in bounded memory. ``prefork`` stays available.
    worker_pool: str = "threads"
    # Threads (or processes) per queue, from MLC_CONCURRENCY_<QUEUE>; unset queues take
    # workers.pools' defaults.
    worker_concurrency: dict[str, int] = field(default_factory=dict)
    # SQLAlchemy's pool per process: a thread holds a connection only while it is in a
    # transaction, never across a call to Shopify or Fusion, so far fewer than the threads.
    db_pool_size: int = 8
    db_max_overflow: int = 8

    # Privacy (docs/privacy.md). A processed webhook's body (done, or deferred: nothing left to
    # do) is erased this many days after it was processed; its receipt (ids, times) stays.
    inbox_body_retention_days: float = 30.0
    inbox_purge_interval_seconds: int = 3600
    # Where a customers/data_request's export is written (one JSON file per request, mode 0600).
    privacy_export_dir: Path = field(default_factory=_default_export_dir)
    # How often the audit trail's new rows are sealed into its hash chain.
    audit_seal_interval_seconds: int = 60

    # ``ml-connector fit``. The receiver's public URL (what Shopify's webhook subscriptions must
    # point at, ``<url>/webhooks/shopify``); empty: their address is not checked.
    public_url: str = ""
    # Where fit reads each Fusion set-up list, ``kind=path`` (connector.services.fit.RESOURCES
    # names the kinds and their defaults): the reference is thin on these resources' names.
    fit_resources: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env=None) -> "Settings":
        env = os.environ if env is None else env
        keys = tuple(k.strip() for k in env.get("MLC_ENCRYPTION_KEYS", "").split(",") if k.strip())
        return cls(
            database_url=env.get("DATABASE_URL") or _default_database_url(),
            redis_url=env.get("REDIS_URL") or cls.redis_url,
            encryption_keys=keys,
            mapping_file=Path(env.get("MLC_MAPPING_FILE") or DEFAULT_MAPPING_FILE),
            log_level=env.get("MLC_LOG_LEVEL", "INFO").upper(),
            log_format=_choice(env, "MLC_LOG_FORMAT", cls.log_format, ("json", "text")),
            log_refusals_limit=_int_at_least(env, "MLC_LOG_REFUSALS_LIMIT", cls.log_refusals_limit, 1),
            log_refusals_window_seconds=_int_at_least(env, "MLC_LOG_REFUSALS_WINDOW",
                                                      cls.log_refusals_window_seconds, 1),
            http_connect_timeout=_float(env, "MLC_HTTP_CONNECT_TIMEOUT", cls.http_connect_timeout),
            http_read_timeout=_float(env, "MLC_HTTP_READ_TIMEOUT", cls.http_read_timeout),
            allow_http=_choice(env, "MLC_ALLOW_HTTP", "false", ("true", "false")) == "true",
            fusion_rate_per_second=_float(env, "MLC_FUSION_RATE", cls.fusion_rate_per_second),
            fusion_burst=_int(env, "MLC_FUSION_BURST", cls.fusion_burst),
            fusion_fair_share=_choice(env, "MLC_FUSION_FAIR_SHARE", "true", ("true", "false")) == "true",
            fusion_share_window_seconds=_int_at_least(env, "MLC_FUSION_SHARE_WINDOW", cls.fusion_share_window_seconds, 1),
            fusion_framework_version=_int(env, "MLC_FUSION_FRAMEWORK_VERSION",
                                          cls.fusion_framework_version),
            shopify_restore_rate=_positive("MLC_SHOPIFY_RESTORE_RATE", _float(
                env, "MLC_SHOPIFY_RESTORE_RATE", cls.shopify_restore_rate)),
            shopify_bucket_size=_int_at_least(env, "MLC_SHOPIFY_BUCKET_SIZE", cls.shopify_bucket_size, 1),
            shopify_max_wait_seconds=_non_negative("MLC_SHOPIFY_MAX_WAIT", _float(
                env, "MLC_SHOPIFY_MAX_WAIT", cls.shopify_max_wait_seconds)),
            shopify_refresh_before_seconds=_int_at_least(env, "MLC_SHOPIFY_REFRESH_BEFORE",
                                                         cls.shopify_refresh_before_seconds, 0),
            shopify_token_keepalive_seconds=_int_at_least(env, "MLC_SHOPIFY_TOKEN_KEEPALIVE",
                                                          cls.shopify_token_keepalive_seconds, 1),
            fusion_receipt_apply=_choice(env, "MLC_FUSION_RECEIPT_APPLY", cls.fusion_receipt_apply, ("rest", "soap")),
            fusion_receipt_partial=_choice(env, "MLC_FUSION_RECEIPT_PARTIAL", cls.fusion_receipt_partial,
                                           ("manual_payment", "off")),
            fusion_receipt_unapply=_choice(env, "MLC_FUSION_RECEIPT_UNAPPLY", cls.fusion_receipt_unapply,
                                           ("rest", "soap")),
            invoice_cancelled_orders=_choice(env, "MLC_INVOICE_CANCELLED_ORDERS", "false",
                                             ("true", "false")) == "true",
            invoice_test_orders=_choice(env, "MLC_INVOICE_TEST_ORDERS", "false", ("true", "false")) == "true",
            max_attempts=_int(env, "MLC_MAX_ATTEMPTS", cls.max_attempts),
            retry_backoff_max_seconds=_int(env, "MLC_RETRY_BACKOFF_MAX", cls.retry_backoff_max_seconds),
            lock_timeout_seconds=_int_at_least(env, "MLC_LOCK_TIMEOUT", cls.lock_timeout_seconds, 5),
            create_lease_seconds=_int_at_least(env, "MLC_CREATE_LEASE", cls.create_lease_seconds, 5),
            task_time_limit_seconds=_int_at_least(env, "MLC_TASK_TIME_LIMIT", cls.task_time_limit_seconds, 10),
            dependency_wait_seconds=_int_at_least(env, "MLC_DEPENDENCY_WAIT", cls.dependency_wait_seconds, 1),
            inbox_sweep_interval_seconds=_int(env, "MLC_INBOX_SWEEP_INTERVAL",
                                              cls.inbox_sweep_interval_seconds),
            inbox_stale_after_seconds=_int(env, "MLC_INBOX_STALE_AFTER", cls.inbox_stale_after_seconds),
            fusion_poll_invoices_seconds=_int_at_least(env, "MLC_FUSION_POLL_INVOICES", cls.fusion_poll_invoices_seconds, 1),
            fusion_poll_credit_memos_seconds=_int_at_least(env, "MLC_FUSION_POLL_CREDIT_MEMOS", cls.fusion_poll_credit_memos_seconds, 1),
            fusion_poll_receipts_seconds=_int_at_least(env, "MLC_FUSION_POLL_RECEIPTS", cls.fusion_poll_receipts_seconds, 1),
            fusion_poll_accounts_seconds=_int_at_least(env, "MLC_FUSION_POLL_ACCOUNTS", cls.fusion_poll_accounts_seconds, 1),
            fusion_poll_overlap_seconds=_int_at_least(env, "MLC_FUSION_POLL_OVERLAP", cls.fusion_poll_overlap_seconds, 0),
            fusion_poll_page_size=_int_at_least(env, "MLC_FUSION_POLL_PAGE_SIZE", cls.fusion_poll_page_size, 1),
            shopify_reconcile_every_seconds=_int_at_least(env, "MLC_SHOPIFY_RECONCILE_EVERY",
                                                          cls.shopify_reconcile_every_seconds, 1),
            shopify_reconcile_days=_positive("MLC_SHOPIFY_RECONCILE_DAYS", _float(
                env, "MLC_SHOPIFY_RECONCILE_DAYS", cls.shopify_reconcile_days)),
            backfill_budget_share=_share("MLC_BACKFILL_BUDGET_SHARE", _float(
                env, "MLC_BACKFILL_BUDGET_SHARE", cls.backfill_budget_share)),
            shop_cache_ttl_seconds=_int_at_least(env, "MLC_SHOP_CACHE_TTL", cls.shop_cache_ttl_seconds, 0),
            webhook_max_bytes=_int_at_least(env, "MLC_WEBHOOK_MAX_BYTES", cls.webhook_max_bytes, 1024),
            webhook_max_age_seconds=_int_at_least(env, "MLC_WEBHOOK_MAX_AGE", cls.webhook_max_age_seconds, 60),
            webhook_max_skew_seconds=_int_at_least(env, "MLC_WEBHOOK_MAX_SKEW", cls.webhook_max_skew_seconds, 0),
            secret_rotation_window_seconds=_at_least(
                0, "MLC_SECRET_ROTATION_WINDOW",
                _int(env, "MLC_SECRET_ROTATION_WINDOW", cls.secret_rotation_window_seconds)),
            metrics_recount_seconds=_int_at_least(env, "MLC_METRICS_RECOUNT", cls.metrics_recount_seconds, 10),
            worker_pool=_choice(env, "MLC_WORKER_POOL", cls.worker_pool, ("threads", "prefork")),
            worker_concurrency={name.removeprefix(CONCURRENCY_PREFIX).lower(): _at_least(1, name, _int(env, name, 1))
                                for name in env if name.startswith(CONCURRENCY_PREFIX)},
            db_pool_size=_int_at_least(env, "MLC_DB_POOL_SIZE", cls.db_pool_size, 1),
            db_max_overflow=_int_at_least(env, "MLC_DB_MAX_OVERFLOW", cls.db_max_overflow, 0),
            inbox_body_retention_days=_non_negative("MLC_INBOX_BODY_RETENTION_DAYS", _float(
                env, "MLC_INBOX_BODY_RETENTION_DAYS", cls.inbox_body_retention_days)),
            inbox_purge_interval_seconds=_int_at_least(env, "MLC_INBOX_PURGE_INTERVAL", cls.inbox_purge_interval_seconds, 1),
            privacy_export_dir=Path(env.get("MLC_PRIVACY_EXPORT_DIR") or _default_export_dir()),
            audit_seal_interval_seconds=_int_at_least(env, "MLC_AUDIT_SEAL_INTERVAL", cls.audit_seal_interval_seconds, 1),
            public_url=_url(env, "MLC_PUBLIC_URL"),
            fit_resources=_pairs(env, "MLC_FIT_RESOURCES"),
        )

    @property
    def http_timeout(self) -> tuple[float, float]:
        return (self.http_connect_timeout, self.http_read_timeout)


_settings: Settings | None = None


def load_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings


def reset_settings() -> None:
    """Forget the cached settings (the CLI sets variables before the first read)."""
    global _settings
    _settings = None
