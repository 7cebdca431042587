"""``info`` and ``list --lookup`` say why a size is unknown: offline, or the host unreachable."""

from __future__ import annotations

import pytest
from support.shardgen import make_spec

from neural_datasets import registry
from neural_datasets.cli import main


def test_offline_info_and_list_say_no_server_was_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEURAL_DATASETS_OFFLINE", "1")
    assert main(["info", "clickme-val"]) == 0
    out = capsys.readouterr().out
    assert "download: ? (unknown: NEURAL_DATASETS_OFFLINE is set, so no server was asked)" in out
    assert "the server gave no size" not in out
    assert main(["list", "--lookup"]) == 0
    out = capsys.readouterr().out
    assert "? not known: NEURAL_DATASETS_OFFLINE is set, so no server was asked" in out
    assert "list --lookup" not in out  # no advice to run what was just run


def test_info_names_an_unreachable_host(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = make_spec("clickme-nowhere", "http://neural-datasets-test.invalid", ["a.tfrecords"])
    monkeypatch.setitem(registry.REGISTRY, spec.name, spec)
    assert main(["info", spec.name]) == 0
    out = " ".join(capsys.readouterr().out.split())  # unwrapped
    assert "neural-datasets-test.invalid could not be asked: the host name could not be" in out
    assert "NEURAL_DATASETS_OFFLINE=1 skips the lookup" in out


def test_info_without_lookup_says_it_was_not_asked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "clickme-val", "--no-lookup"]) == 0
    assert "download: ? (unknown: not asked (--no-lookup))" in capsys.readouterr().out
