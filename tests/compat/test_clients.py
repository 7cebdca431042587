"""Client code as it is written against the lab's packages, run as plain scripts.

Each test writes a script the way a client writes one (no ``__main__`` guard, the
compat import in place of the original's, environment set where clients set it)
and runs it in a fresh interpreter with a temporary home: the Keras caches are
built there in the layouts Keras 2 and Keras 3 leave, the user's real home is
never read or written, and nothing reaches the network (``NEURAL_DATASETS_OFFLINE``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.keras_cache import put_arcaro, tree_fingerprint

pytest.importorskip("tensorflow")

TIMEOUT = 300


def run_script(tmp_path: Path, code: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    """``code`` as ``client.py`` in a fresh interpreter; ``env`` values of None are unset."""
    script = tmp_path / "client.py"
    script.write_text(textwrap.dedent(code))
    environment = {**os.environ, "HOME": str(tmp_path / "home"), "NEURAL_DATASETS_OFFLINE": "1"}
    for key in ("NEURAL_DATASETS_SAMPLES", "XDG_CACHE_HOME"):
        environment.pop(key, None)
    for key, value in env.items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=environment,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_a_clients_offline_ci_runs_on_the_samples(tmp_path: Path) -> None:
    """``NEURAL_DATASETS_SAMPLES=1``: the no-argument loaders read the bundled samples."""
    out = run_script(
        tmp_path,
        """
        from neural_datasets.compat.harmonization import load_clickme_train, load_clickme_val
        from neural_datasets.compat.neural_harmonizer import Neural_dataset

        val = load_clickme_val()
        shapes = [tuple(t.shape) for t in next(iter(val))]
        print("val", len(list(val)), shapes)
        print("train", len(list(load_clickme_train(batch_size=512).take(1))))
        dataset = Neural_dataset()
        X, X_preprocessed, y = dataset.load_data()
        kind = type(X_preprocessed).__name__
        print("it", dataset.name, X.shape, kind, X_preprocessed.numpy().shape)
        """,
        NEURAL_DATASETS_SAMPLES="1",
        NEURAL_DATASETS_HOME=str(tmp_path / "cache"),
    )
    lines = out.stdout.strip().splitlines()
    # 17 val shards stand-ins of 24 records: 408 records, 6 full batches of 64
    assert lines[0] == "val 6 [(64, 224, 224, 3), (64, 224, 224, 1), (64, 1000)]"
    assert lines[1] == "train 1"  # 318 stand-ins of 24 records: 7632
    assert lines[2] == "it arcaro2020-sample (4, 224, 224, 3) EagerTensor (4, 224, 224, 3)"
    assert "NEURAL_DATASETS_SAMPLES is set: the val split reads the bundled" in out.stderr
    assert "Neural_dataset() reads the bundled arcaro2020-sample" in out.stderr
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    # Nothing of ours in the home (Keras and matplotlib write their own config there).
    assert not [p for p in written if p.startswith("home") and "neural-datasets" in p]
    assert not [p for p in written if p.startswith("home/.keras/datasets")]


def test_a_switch_value_that_is_not_understood_is_refused(tmp_path: Path) -> None:
    code = "from neural_datasets.compat.harmonization import load_clickme_val\nload_clickme_val()\n"
    (tmp_path / "client.py").write_text(code)
    env = {**os.environ, "NEURAL_DATASETS_SAMPLES": "yes please", "NEURAL_DATASETS_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, str(tmp_path / "client.py")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
    )
    assert out.returncode == 1
    assert "NEURAL_DATASETS_SAMPLES='yes please' is not understood" in out.stderr


def test_a_batch_larger_than_the_data_is_an_empty_loop_with_a_warning(tmp_path: Path) -> None:
    out = run_script(
        tmp_path,
        """
        from neural_datasets.compat.harmonization import load_clickme, sample_shards

        seen = 0
        for images, heatmaps, labels in load_clickme(sample_shards(), 64):
            seen += 1
        print("batches", seen)
        """,
        NEURAL_DATASETS_HOME=str(tmp_path / "cache"),
    )
    assert out.stdout.strip() == "batches 0"
    assert "RuntimeWarning: No batches: batch_size=64 is larger than the 48" in out.stderr


def test_paths_set_after_import_are_honoured_and_the_keras_cache_reused(tmp_path: Path) -> None:
    """HOME, then KERAS_HOME and NEURAL_DATASETS_HOME, set by the script after its imports.

    The recordings the original downloaded sit in the Keras cache (as the bundled
    sample archive, registered as the real one): in Keras 3's layout under the new
    HOME, in Keras 2's under the new KERAS_HOME. Offline, ``Neural_dataset()`` can
    only work by finding them there, under the paths decided at call time.
    """
    home = tmp_path / "later-home"
    put_arcaro(home / ".keras", "keras3")
    keras_dir = tmp_path / "later-keras"
    put_arcaro(keras_dir, "keras2")
    before = (tree_fingerprint(home / ".keras"), tree_fingerprint(keras_dir))
    out = run_script(
        tmp_path,
        f"""
        import os
        import warnings
        from pathlib import Path

        from neural_datasets.compat.neural_harmonizer import Neural_dataset

        warnings.simplefilter("ignore")  # the real archive is trusted on first use
        for key in ("NEURAL_DATASETS_HOME", "KERAS_HOME"):
            os.environ.pop(key, None)
        os.environ["HOME"] = {str(home)!r}
        first = Neural_dataset()
        print("home", Path(first.path_to_downloaded_file).is_relative_to({str(home)!r}))

        os.environ["KERAS_HOME"] = {str(keras_dir)!r}
        os.environ["NEURAL_DATASETS_HOME"] = {str(tmp_path / "later-cache")!r}
        second = Neural_dataset()
        print("env", second.path_to_downloaded_file.startswith({str(tmp_path / "later-cache")!r}))
        X, X_preprocessed, y = second.load_data("red_central_it")
        print(X.shape, y.shape)
        """,
        NEURAL_DATASETS_HOME=None,
        KERAS_HOME=None,
    )
    lines = out.stdout.strip().splitlines()
    assert lines == ["home True", "env True", "(4, 224, 224, 3) (4, 9, 9, 32)"]
    assert out.stderr.count("arcaro2020: reused 1 existing file") == 2
    assert str(home / ".keras" / "datasets") in out.stderr
    assert str(keras_dir / "datasets") in out.stderr
    after = (tree_fingerprint(home / ".keras"), tree_fingerprint(keras_dir))
    for folder in after:  # Keras itself writes its config when TensorFlow is imported
        folder.pop("keras.json", None)
    assert after == before


def test_the_originals_arithmetic_warns_once_naming_the_fix(tmp_path: Path) -> None:
    out = run_script(
        tmp_path,
        """
        from neural_datasets.compat.neural_harmonizer import Neural_dataset

        dataset = Neural_dataset("arcaro2020-sample")
        for stimuli in ("george_central_it", "red_central_it"):
            dataset.load_data(stimuli)
        dataset.preprocess()
        quiet = Neural_dataset("arcaro2020-sample", legacy_preprocessing=True)
        quiet.load_data()
        print("done")
        """,
        NEURAL_DATASETS_HOME=str(tmp_path / "cache"),
    )
    assert out.stdout.strip() == "done"
    assert out.stderr.count("UserWarning: Neural_dataset preprocesses stimuli as") == 1
    assert "Neural_dataset(legacy_preprocessing=False)" in out.stderr
    assert "neural_datasets.ITRecordings(...).load_data()" in out.stderr
    assert "client.py:6: UserWarning" in out.stderr  # points at the client's line
