"""``harness cache info | prune | clear`` (registered by the CLI with ``cache_commands.add_parsers``)."""

from __future__ import annotations

import argparse
import hashlib
from datetime import timedelta

import numpy as np
import pytest

from harness.cache import EmbeddingCache
from harness.cache import clock as clock_module
from harness.cli import run_handler
from harness.cli.cache_commands import add_parsers, age, size


def harness_cache(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="harness")
    add_parsers(parser.add_subparsers())
    args = parser.parse_args(["cache", *argv])
    return run_handler(args.handler, args)


def key(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


@pytest.fixture
def stored(tmp_path):
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many([(key(n), np.ones(1024, np.float32)) for n in range(3)])
    return tmp_path


def test_info_prints_the_folder_entries_and_sizes(stored, capsys):
    assert harness_cache("info", "--cache_dir", str(stored)) == 0

    out = capsys.readouterr().out
    assert f"embedding cache {stored}" in out and "entries: 3 (12.0 KiB of arrays)" in out and "1 shard files" in out


def test_info_uses_the_environment_variable_when_no_folder_is_given(stored, monkeypatch, capsys):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(stored))

    harness_cache("info")

    assert "entries: 3" in capsys.readouterr().out


def test_prune_removes_entries_older_than_the_age_and_says_what_it_freed(stored, monkeypatch, capsys):
    now = clock_module.now()
    monkeypatch.setattr(clock_module, "now", lambda: now + 31 * 86400)

    assert harness_cache("prune", "--older_than", "30d", "--cache_dir", str(stored)) == 0

    out = capsys.readouterr().out
    assert "removed 3 entries not used for 30 days" in out and "shard files: 1 deleted" in out
    with EmbeddingCache.open(stored) as cache:
        assert cache.info().entries == 0


def test_prune_of_a_cache_in_use_is_one_line_and_status_2(stored, capsys):
    with EmbeddingCache.open(stored):
        assert harness_cache("prune", "--older_than", "1d", "--cache_dir", str(stored)) == 2

    err = capsys.readouterr().err
    assert err.startswith("error: embedding cache") and "in use" in err and err.count("\n") == 1


def test_prune_needs_an_age(stored):
    with pytest.raises(SystemExit) as exited:
        harness_cache("prune", "--cache_dir", str(stored))

    assert exited.value.code == 2


AGES = [("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("2w", timedelta(weeks=2)), ("0s", timedelta(0))]


@pytest.mark.parametrize(("text", "expected"), AGES)
def test_ages_are_a_number_and_a_unit(text, expected):
    assert age(text) == expected


@pytest.mark.parametrize("text", ["30", "d", "-1d", "1.5d", "30 days", "1y"])
def test_other_ages_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match="such as 30d"):
        age(text)


def test_clear_removes_every_entry(stored, capsys):
    assert harness_cache("clear", "--cache_dir", str(stored)) == 0

    assert "removed 3 entries" in capsys.readouterr().out
    with EmbeddingCache.open(stored) as cache:
        assert cache.info().entries == 0


def test_commands_on_a_folder_without_a_cache_say_so_and_create_nothing(tmp_path, capsys):
    for command in (["prune", "--older_than", "1d"], ["clear"]):
        assert harness_cache(*command, "--cache_dir", str(tmp_path / "none")) == 0

    assert capsys.readouterr().out.count(f"no embedding cache in {tmp_path / 'none'}") == 2
    assert not (tmp_path / "none").exists()


def test_sizes_are_printed_in_binary_units():
    assert [size(n) for n in (5, 1536, 3 * 2**20, 2**40)] == ["5 bytes", "1.5 KiB", "3.0 MiB", "1.0 TiB"]
