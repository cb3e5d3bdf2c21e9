"""Secret files are their owner's from the first byte, whatever the process's umask."""
from __future__ import annotations

import os
import stat

import pytest

from connector.private_files import private_directory, write_private


@pytest.fixture
def open_umask():
    previous = os.umask(0)   # a process that would create files world-readable
    yield
    os.umask(previous)


def test_given_an_open_umask_then_a_private_file_is_0600_and_holds_the_data(tmp_path, open_umask):
    path = write_private(tmp_path / "env", "MLC_ENCRYPTION_KEYS=secret\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "MLC_ENCRYPTION_KEYS=secret\n"
    assert [p.name for p in tmp_path.iterdir()] == ["env"]   # no temporary left behind


def test_given_an_existing_open_directory_then_it_is_narrowed_to_its_owner(tmp_path, open_umask):
    demo = tmp_path / ".demo"
    demo.mkdir(mode=0o755)
    private_directory(demo)
    assert stat.S_IMODE(demo.stat().st_mode) == 0o700


def test_given_a_file_there_then_it_is_replaced_whole(tmp_path):
    (tmp_path / "demo.json").write_text("old and longer than the new")
    write_private(tmp_path / "demo.json", b"{}")
    assert (tmp_path / "demo.json").read_bytes() == b"{}"
