"""Flower shows every task's arguments (inbox ids, order ids) and can revoke tasks and shut workers
down, so it never runs open: :func:`guard` refuses to start it without a login, or with the
example login of ``deploy/env.example``, and binds it to localhost unless an address is given.

``celery -A workers.app flower`` imports :mod:`workers.app`, which calls :func:`install`: that
puts the guard in front of Flower's command, after Flower has read its options (environment
variables such as ``FLOWER_BASIC_AUTH`` and ``FLOWER_ADDRESS``, its command line, a
``flowerconfig.py``) and before it listens. So every way of starting Flower on this app is
guarded, whatever the working directory, and the deploy files need no option of ours.
"""
from __future__ import annotations

import functools
import sys
from typing import Callable

#: Passwords nobody may run Flower with: ``deploy/env.example``'s placeholder
#: (``tests/workers/test_flower.py`` checks that the template's login is refused).
EXAMPLE_PASSWORDS = frozenset({"CHANGE_ME"})
LOCALHOST = "127.0.0.1"


def login_problem(basic_auth: list[str] | None) -> str:
    """Why these ``user:password`` logins cannot protect Flower, or ""."""
    logins = [login for login in basic_auth or [] if login.strip()]
    if not logins:
        return ("no login: set FLOWER_BASIC_AUTH=user:password (Flower would let anyone see the tasks "
                "and shut the workers down)")
    for login in logins:
        user, colon, password = login.partition(":")
        if not colon or not user.strip() or not password:
            return "FLOWER_BASIC_AUTH must be user:password (comma-separated for several logins)"
        if password in EXAMPLE_PASSWORDS:
            return f"user {user!r} has the example password of deploy/env.example: choose a password of your own"
    return ""


def guard() -> None:
    """Stop Flower before it listens when its login would not protect it; default to localhost."""
    # Flower's options (tornado's), as Flower has read them
    from tornado.options import options
    problem = login_problem(options.basic_auth)
    if problem:
        raise SystemExit(f"flower: refusing to start: {problem}")
    if not options.address and not options.unix_socket:
        options.address = LOCALHOST  # Flower's own default is every interface


def install(prepare: Callable[[], None] | None = None) -> None:
    """Run :func:`guard` first whenever this process's celery command line starts Flower, after
    ``prepare`` (the app's logging: Flower's options would otherwise give the root logger
    tornado's handler, which adds none when one is there).

    Only in the ``celery`` command itself (its CLI module is loaded) and only when Flower is
    installed as its ``flower`` sub-command; a worker or beat process is left as it is.
    """
    cli = sys.modules.get("celery.bin.celery")
    command = getattr(getattr(cli, "celery", None), "commands", {}).get("flower")
    if command is None or getattr(command.callback, "mlc_guarded", False):
        return
    start = command.callback

    @functools.wraps(start)
    def guarded(*args, **kwargs):
        from flower.command import apply_env_options, apply_options
        if prepare is not None:
            prepare()
        apply_env_options()  # what Flower's command does first; it does it again, to the same effect
        apply_options(sys.argv[0], list(kwargs.get("tornado_argv", ())))
        guard()
        return start(*args, **kwargs)

    guarded.mlc_guarded = True
    command.callback = guarded
