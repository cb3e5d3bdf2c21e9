"""The worker command runs each queue with its production pool, and the operator can change it."""
from __future__ import annotations

import pytest

from connector.config import ConfigError, Settings
from connector.flows import QUEUES
from workers.pools import SQLITE_THREADS, THREADS, worker_argv


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_given_no_settings_then_every_queue_runs_threads_with_fifty_calls_in_flight_in_all():
    settings = Settings.from_env({"DATABASE_URL": "postgresql://db/mlc"})

    argvs = {queue: worker_argv(settings, queue) for queue in QUEUES}

    assert {option(a, "--pool") for a in argvs.values()} == {"threads"}
    assert {option(a, "--queues") for a in argvs.values()} == set(QUEUES)
    assert set(THREADS) == set(QUEUES)  # a new queue must get a default here
    assert sum(int(option(a, "--concurrency")) for a in argvs.values()) >= 50


def test_given_sqlite_then_threads_are_capped_at_what_one_writer_can_use():
    settings = Settings.from_env({"DATABASE_URL": "sqlite:///demo.db"})

    assert option(worker_argv(settings, "invoices"), "--concurrency") == str(SQLITE_THREADS)


def test_given_a_queue_concurrency_then_only_that_queue_changes():
    settings = Settings.from_env({"DATABASE_URL": "postgresql://db/mlc", "MLC_CONCURRENCY_INVOICES": "48"})

    assert option(worker_argv(settings, "invoices"), "--concurrency") == "48"
    assert option(worker_argv(settings, "customers"), "--concurrency") == str(THREADS["customers"])


def test_given_prefork_then_processes_default_to_one_per_core(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    settings = Settings.from_env({"MLC_WORKER_POOL": "prefork"})

    argv = worker_argv(settings, "invoices")

    assert (option(argv, "--pool"), option(argv, "--concurrency")) == ("prefork", "2")


@pytest.mark.parametrize("env, named", [({"MLC_WORKER_POOL": "gevent"}, "MLC_WORKER_POOL"),
                                        ({"MLC_CONCURRENCY_INVOICES": "0"}, "MLC_CONCURRENCY_INVOICES"),
                                        ({"MLC_DB_POOL_SIZE": "many"}, "MLC_DB_POOL_SIZE")])
def test_given_a_bad_pool_setting_then_the_error_names_it(env, named):
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(env)
