"""Plug-ins end to end: a pip-installed dataset package is served like the datasets we ship."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.plugins import install_plugin

SCRIPT = textwrap.dedent(
    """
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import neural_datasets as nd
    skipped = [str(w.message) for w in caught if "skipped dataset" in str(w.message)]
    print("WARNINGS", len(skipped), skipped[0] if skipped else "")
    from neural_datasets.cli import main

    assert "lab-clickme" in nd.available(), nd.available()
    ds = nd.load("lab-clickme", progress=False)
    same = nd.ClickMe("lab-clickme[:10]", progress=False)
    ours = nd.ClickMe("sample", progress=False)
    assert type(ds).__name__ == "ClickMe" and len(ds) == 48 and len(same) == 10
    assert (ds.read_batch([3, 7])["image"] == ours.read_batch([3, 7])["image"]).all()
    about = nd.info("lab-clickme")
    assert about.family == "clickme" and about.samples.value == 48, about
    assert about.cached == ("raw",) and about.store_bytes["raw"].how == "measured"
    for argv in (["list"], ["cite", "lab-clickme"], ["verify", "lab-clickme", "--no-progress"],
                 ["path", "lab-clickme", "--layout", "compact"],
                 ["fetch", "lab-clickme", "--layout", "compact", "--no-progress"]):
        assert main(argv) == 0, argv
    assert nd.verify("lab-clickme", progress=False) == []
    from neural_datasets.torch import loader
    batch = next(iter(loader(ds, 8, shuffle=False)))
    print("TORCH", tuple(batch["image"].shape), tuple(batch["heatmap"].shape))
    assert main(["rm", "lab-clickme"]) == 0
    print("DONE")
    """
)


@pytest.mark.slow
def test_an_installed_plugin_is_served_like_our_datasets(tmp_path: Path) -> None:
    site = install_plugin(tmp_path / "site", broken=True)
    script = tmp_path / "use_plugin.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, NEURAL_DATASETS_HOME=str(tmp_path / "cache"))
    env["PYTHONPATH"] = os.pathsep.join([str(site), os.getcwd(), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    # One warning, naming the broken plug-in; the working one is registered all the same.
    assert "WARNINGS 1 neural-datasets: skipped dataset plug-in 'broken'" in out
    assert "lab_datasets.no_such_module" in out
    assert "@misc{lab2026clickme," in out  # cite
    assert any(line.startswith("lab-clickme ") for line in out.splitlines())  # list
    assert str(tmp_path / "cache" / "lab-clickme" / "store-compact.zarr") in out  # path
    assert "TORCH (8, 3, 256, 256) (8, 1, 256, 256)" in out
    assert out.rstrip().endswith("DONE")
