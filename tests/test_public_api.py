"""The public names as users see them: typed for mypy, listed by dir(), nothing leaked."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import neural_datasets as nd
from neural_datasets import registry
from neural_datasets.cli import main

USER_SCRIPT = """\
import neural_datasets as nd

ds = nd.ClickMe("sample[:8]", progress=False)
n: int = len(ds)
about: nd.DatasetInfo = nd.info("clickme-sample")
problems: list[str] = nd.verify("clickme-sample", progress=False)
it = nd.ITRecordings("arcaro2020-sample", progress=False)
"""


@pytest.mark.slow
def test_mypy_strict_checks_users_calls(tmp_path: Path) -> None:
    good = tmp_path / "good_script.py"
    good.write_text(USER_SCRIPT)
    bad = tmp_path / "bad_script.py"
    bad.write_text(USER_SCRIPT + 'nd.ClickMe("val", bogus=3)\nnd.ClickMee("val")\n')
    checked = subprocess.run(
        # As users' checkers see an installed package: its own errors silent, its types in force.
        # One run checks both scripts: mypy's start-up (the package and torch's stubs) is the cost.
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-incremental"]
        + [str(good), str(bad)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).parents[1],
    )
    errors = [line for line in checked.stdout.splitlines() if ": error:" in line]
    assert not [line for line in errors if "good_script.py" in line], checked.stdout
    assert len(errors) == 2, checked.stdout
    assert 'Unexpected keyword argument "bogus"' in errors[0], checked.stdout
    assert 'has no attribute "ClickMee"' in errors[1], checked.stdout


def test_dir_lists_the_lazy_names_and_leaks_no_helpers() -> None:
    names = dir(nd)
    assert {"ClickMe", "ITRecordings", "verify", "info", "load", "Neural_dataset"} <= set(names)
    assert not {"Any", "annotations", "TYPE_CHECKING", "importlib"} & set(names)
    assert set(nd.__all__) <= set(names)


def test_load_gives_the_family_class_of_any_name(cache_dir: Path) -> None:
    assert type(nd.load("clickme-sample", cache_dir=cache_dir, progress=False)) is nd.ClickMe
    with pytest.raises(nd.UnknownDatasetError, match="Did you mean: clickme-sample"):
        nd.load("clickme-sampel")


def test_info_and_cite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    about = nd.info("clickme-val", cache_dir=tmp_path)
    assert about.layouts == ("raw", "compact") and about.default_layout == "raw"
    assert about.features[2].value_range == (0, 999) and about.samples.how == "unknown"
    assert main(["info", "clickme-val", "--json", "--no-lookup", "--cache-dir", str(tmp_path)]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["layouts"] == ["raw", "compact"] and facts["cached"] == []
    assert [f["name"] for f in facts["features"]] == ["image", "heatmap", "label"]
    assert facts["bibtex"].startswith("@inproceedings{fel2022harmonizing")
    assert main(["cite", "arcaro2020"]) == 0
    assert "@article{arcaro2020neurons," in capsys.readouterr().out


def test_info_offers_only_the_layouts_a_dataset_has(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", "arcaro2020-sample", "--cache-dir", str(tmp_path)]) == 0
    assert "layout: raw (the default; the only one)" in capsys.readouterr().out
    assert main(["path", "arcaro2020-sample", "--layout", "compact"]) == 2  # a usage error
    assert "arcaro2020-sample has no layout 'compact'" in capsys.readouterr().err


def test_a_broken_plugin_warns_once_and_the_rest_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    class Entry:
        name, value = "broken", "nowhere.spec"

        def load(self) -> object:
            raise ImportError("No module named 'nowhere'")

    monkeypatch.setattr(registry, "entry_points", lambda group: [Entry()])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = registry._collect()
    assert [str(w.message) for w in caught] == [
        "neural-datasets: skipped dataset plug-in 'broken' (nowhere.spec): ImportError: "
        "No module named 'nowhere'"
    ]
    assert set(found) == set(registry.REGISTRY)
