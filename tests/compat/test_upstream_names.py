"""Every public module-level name of the lab's data and evaluation modules is in ``compat``.

``UPSTREAM`` is a fixed list taken from the upstream sources
(serre-lab/Harmonization, serre-lab/neural_harmonizer): one line per public name,
``<upstream module>  <name>(<signature>)`` for functions and classes (the
signature as written upstream), ``<name> = <value>`` for constants (``...`` where
the value is a TensorFlow object, checked by behaviour below). Each is checked
to exist in its compat module with a signature that accepts every upstream call
(same positional names in order, upstream's defaults; anything added has a
default), and the values and behaviour on sample inputs are compared with
independent restatements of the originals.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import neural_datasets.compat.harmonization as hz
import neural_datasets.compat.neural_harmonizer as nh

tf = pytest.importorskip("tensorflow")

UPSTREAM = """
harmonization.common.clickme_dataset  CLICKME_BASE_URL =
    'https://storage.googleapis.com/serrelab/prj_harmonization/dataset/click-me'
harmonization.common.clickme_dataset  NB_VAL_SHARDS = 17
harmonization.common.clickme_dataset  NB_TRAIN_SHARDS = 318
harmonization.common.clickme_dataset  AUTO = -1
harmonization.common.clickme_dataset  GAUSSIAN_KERNEL = ...
harmonization.common.clickme_dataset  FEATURE_DESCRIPTION = ...
harmonization.common.clickme_dataset  parse_clickme_prototype(prototype)
harmonization.common.clickme_dataset  load_clickme(shards_paths, batch_size)
harmonization.common.clickme_dataset  load_clickme_train(batch_size=64)
harmonization.common.clickme_dataset  load_clickme_val(batch_size=64)
harmonization.common.blur  BLUR_KERNEL_SIZE = 10
harmonization.common.blur  BLUR_SIGMA = 10
harmonization.common.blur  gaussian_kernel(size=10, sigma=10)
harmonization.common.blur  gaussian_blur(heatmap, kernel)
harmonization.evaluation.metrics  EPSILON = 1e-9
harmonization.evaluation.metrics  spearman_correlation(heatmaps_a, heatmaps_b)
harmonization.evaluation.metrics  intersection_over_union(heatmaps_a, heatmaps_b, percentile=10)
harmonization.evaluation.metrics  dice(heatmaps_a, heatmaps_b, percentile=10)
harmonization.evaluation.clickme  HUMAN_SPEARMAN_CEILING = 0.65753
harmonization.evaluation.clickme  AUTO = -1
harmonization.evaluation.clickme  evaluate_clickme(model, explainer=None,
    clickme_val_dataset=None, preprocess_inputs=None)
neural_harmonizer.data.dataset  BUCKET_URL =
    'https://storage.googleapis.com/serrelab-public/neural_recordings/Arcaro2020.zip'
neural_harmonizer.data.dataset  Neural_dataset()
neural_harmonizer.evaluation.metrics  EPSILON = 1e-9
neural_harmonizer.evaluation.metrics  spearman_correlation(heatmaps_a, heatmaps_b)
neural_harmonizer.evaluation.metrics  intersection_over_union(heatmaps_a, heatmaps_b,
    percentile=10)
neural_harmonizer.evaluation.metrics  dice(heatmaps_a, heatmaps_b, percentile=10)
neural_harmonizer.evaluation.metrics  tf_pearson_loss(x, y, axis=-1)
neural_harmonizer.evaluation.metrics  brain_score(X_train, Y_train, X_test, Y_test,
    n_components=25, reducer='median', correlation_fn='pearson')
neural_harmonizer.evaluation.metrics  saliency_score(y_test, x_test, y_pred, activation_model,
    pls_kernel)
neural_harmonizer.evaluation.metrics  spearmanr_sim(explanations1, explanations2, reducers=[1,
    4, 16], visualize=False)
neural_harmonizer.evaluation.metrics  highest_off_diagonal(correlation_matrix)
neural_harmonizer.evaluation.metrics  ceiling_score(neural_array, time_a=100, time_b=150,
    correlation_fn='pearson')
neural_harmonizer.evaluation.neural_benchmark  resizing_activity(activity_array, grid_size=17)
neural_harmonizer.evaluation.neural_benchmark  score_features(X_features, Y, grid_size=17,
    reducer='median', correlation_fn='pearson')
neural_harmonizer.evaluation.neural_benchmark  score_model(activity_array, Y, grid_size=17,
    correlation_fn='pearson', reducer='median')
neural_harmonizer.evaluation.neural_benchmark  neural_benchmark_score(model, layers=None,
    stimuli='george_central_it', time_a=130, time_b=170, grid_size=17,
    correlation_fn='pearson', reducer='median')
"""

# Methods client code calls on the original's class, checked like the functions.
UPSTREAM_METHODS = """
neural_harmonizer.data.dataset  Neural_dataset.download_to_local()
neural_harmonizer.data.dataset  Neural_dataset.preprocess()
neural_harmonizer.data.dataset  Neural_dataset.get_george_posterior_it_temp(a=50, b=90)
neural_harmonizer.data.dataset  Neural_dataset.get_george_central_it_temp(a=50, b=90)
neural_harmonizer.data.dataset  Neural_dataset.get_red_central_it_temp(a=50, b=90)
neural_harmonizer.data.dataset  Neural_dataset.load_data(stimuli='george_central_it',
    time_a=50, time_b=90)
"""

COMPAT_MODULE = {
    "harmonization": "neural_datasets.compat.harmonization",
    "neural_harmonizer": "neural_datasets.compat.neural_harmonizer",
}

# Who wires each upstream module's names into compat (issue 25's split).
OWNER = {
    "harmonization.common.clickme_dataset": "25",
    "harmonization.common.blur": "25",
    "harmonization.evaluation.metrics": "23a",
    "harmonization.evaluation.clickme": "23a",
    "neural_harmonizer.data.dataset": "25",
    "neural_harmonizer.evaluation.metrics": "23b",
    "neural_harmonizer.evaluation.neural_benchmark": "23b",
}

# Owners whose branches are not merged into this one yet: their names are expected to be
# missing here (strict xfail, so that a merged name fails until its owner is removed).
# THE LEAD REMOVES EACH OWNER AT MERGE; an empty set means all 36 names must exist.
_NOT_YET_MERGED: set[str] = set()


def parse(listing: str) -> list[tuple[str, str, str]]:
    """``(upstream module, name, rest)`` per entry; ``rest`` is ``(...)`` or ``= value``.

    An entry is a line, continued by the indented lines after it."""
    lines: list[str] = []
    for line in listing.strip().splitlines():
        if line.startswith(" "):  # a long signature continues
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    entries = []
    for line in lines:
        module, definition = line.split(None, 1)
        name = definition.split("(", 1)[0].split("=", 1)[0].strip()
        entries.append((module, name, definition[len(name) :].strip()))
    return entries


ENTRIES = parse(UPSTREAM)
UNIQUE = sorted({(COMPAT_MODULE[m.split(".")[0]], name) for m, name, _ in ENTRIES})


def compat_module(upstream_module: str) -> Any:
    return sys.modules[COMPAT_MODULE[upstream_module.split(".")[0]]]


def upstream_parameters(rest: str) -> list[tuple[str, Any]]:
    """``[(name, default or inspect.Parameter.empty)]`` of a signature written upstream."""
    args = ast.parse(f"def f{rest}: pass").body[0].args  # type: ignore[attr-defined]
    defaults = [inspect.Parameter.empty] * (len(args.args) - len(args.defaults))
    defaults += [ast.literal_eval(d) for d in args.defaults]
    return [(a.arg, d) for a, d in zip(args.args, defaults)]


def assert_accepts_every_upstream_call(ours: Any, rest: str, where: str) -> None:
    params = list(inspect.signature(ours).parameters.values())
    upstream = upstream_parameters(rest)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    assert [p.name for p in positional[: len(upstream)]] == [n for n, _ in upstream], where
    for param, (name, default) in zip(positional, upstream):
        if default is not inspect.Parameter.empty:
            assert param.default == default, f"{where}: default of {name}"
    for extra in params[len(upstream) :]:  # ours only: never needed by an upstream call
        assert extra.default is not inspect.Parameter.empty or extra.kind in (
            extra.VAR_POSITIONAL,
            extra.VAR_KEYWORD,
        ), f"{where}: {extra.name} needs a default"


def owners(upstream_module: str, name: str) -> set[str]:
    """Who wires the compat name (AUTO comes from two upstream modules of two owners)."""
    target = COMPAT_MODULE[upstream_module.split(".")[0]]
    return {
        OWNER[m] for m, n, _ in ENTRIES if n == name and COMPAT_MODULE[m.split(".")[0]] == target
    }


def _marks(upstream_module: str, name: str) -> list[Any]:
    by = owners(upstream_module, name)
    if by <= _NOT_YET_MERGED:
        reason = f"wired on issue {'/'.join(sorted(by))}'s branch, not merged here yet"
        return [pytest.mark.xfail(strict=True, reason=reason)]
    return []


@pytest.mark.parametrize(
    "module, name, rest",
    [pytest.param(*e, id=f"{e[0]}.{e[1]}", marks=_marks(e[0], e[1])) for e in ENTRIES],
)
def test_each_upstream_name_exists_with_a_compatible_signature(module, name, rest) -> None:
    ours = getattr(compat_module(module), name)  # AttributeError: missing
    where = f"{compat_module(module).__name__}.{name}"
    if rest.startswith("="):
        value = rest[1:].strip()
        if value != "...":
            assert ours == ast.literal_eval(value) and type(ours) is type(ast.literal_eval(value))
    else:
        target = ours.__init__ if inspect.isclass(ours) else ours
        assert_accepts_every_upstream_call(
            target, rest if not inspect.isclass(ours) else "(self)", where
        )


@pytest.mark.parametrize("module, name, rest", parse(UPSTREAM_METHODS), ids=lambda v: str(v)[:40])
def test_the_classes_methods_accept_every_upstream_call(module, name, rest) -> None:
    cls_name, method = name.split(".")
    ours = getattr(getattr(compat_module(module), cls_name), method)
    assert_accepts_every_upstream_call(ours, "(self, " + rest[1:], f"{cls_name}.{method}")


def test_the_list_has_the_36_names_of_the_seven_modules() -> None:
    assert len(set(OWNER)) == len({m for m, _, _ in ENTRIES}) == 7
    assert len(UNIQUE) == 36  # AUTO is in two upstream modules, one compat module
    present = [(m, n) for m, n in UNIQUE if hasattr(sys.modules[m], n)]
    owners_missing = {
        OWNER[m] for m, n, _ in ENTRIES if (COMPAT_MODULE[m.split(".")[0]], n) not in present
    }
    assert owners_missing <= _NOT_YET_MERGED, f"missing names of {owners_missing - _NOT_YET_MERGED}"
    if not _NOT_YET_MERGED:
        assert len(present) == 36


# ------------------------------------------------------------ behaviour on sample inputs


def upstream_gaussian_kernel(size: int = 10, sigma: float = 10) -> np.ndarray:
    """blur.py's kernel, restated: x offsets -(size-1)//2 upwards along columns, y offsets
    (size-1)//2 downwards along rows (Python floor division), normalised, (size, size, 1, 1)."""
    x = np.arange(-(size - 1) // 2, (size - 1) // 2 + 1)
    y = np.arange((size - 1) // 2, -(size - 1) // 2 - 1, -1)
    xs, ys = np.meshgrid(x, y)
    k = np.exp(-(xs**2 + ys**2) / (2 * sigma**2)) / (2 * np.pi * sigma**2)
    return (k / k.sum()).astype(np.float32)[:, :, None, None]


def test_constants_that_are_tensorflow_objects() -> None:
    assert hz.AUTO == tf.data.AUTOTUNE
    assert isinstance(hz.GAUSSIAN_KERNEL, tf.Tensor) and hz.GAUSSIAN_KERNEL.dtype == tf.float32
    np.testing.assert_allclose(hz.GAUSSIAN_KERNEL.numpy(), upstream_gaussian_kernel(), rtol=1e-6)
    expected = {
        "image": tf.io.FixedLenFeature([], tf.string, default_value=""),
        "heatmap": tf.io.FixedLenFeature([], tf.string, default_value=""),
        "label": tf.io.FixedLenFeature([], tf.int64, default_value=0),
    }
    assert expected == hz.FEATURE_DESCRIPTION


@pytest.mark.parametrize("size, sigma", [(10, 10), (5, 2), (7, 3.5), (np.int64(4), np.int32(1))])
def test_gaussian_kernel(size, sigma) -> None:
    ours = hz.gaussian_kernel(size, sigma)
    assert isinstance(ours, tf.Tensor) and ours.shape == (size, size, 1, 1)
    np.testing.assert_allclose(ours.numpy(), upstream_gaussian_kernel(size, sigma), rtol=1e-6)


def test_gaussian_blur_is_a_same_correlation() -> None:
    """Restated without TensorFlow: zero padding 4 before, 5 after (SAME, even kernel)."""
    rng = np.random.default_rng(0)
    heatmap = rng.random((64, 64, 1), dtype=np.float32) * 255
    kernel = upstream_gaussian_kernel()[:, :, 0, 0]
    padded = np.pad(heatmap[:, :, 0], ((4, 5), (4, 5)))
    expected = np.zeros((64, 64))
    for i in range(10):
        for j in range(10):
            expected += kernel[i, j] * padded[i : i + 64, j : j + 64]
    for given in (heatmap, tf.constant(heatmap)):
        ours = hz.gaussian_blur(given, hz.GAUSSIAN_KERNEL)
        assert isinstance(ours, tf.Tensor) and ours.shape == (64, 64, 1)
        np.testing.assert_allclose(ours.numpy()[:, :, 0], expected, atol=2e-3)


def test_parse_clickme_prototype_on_the_sample_records() -> None:
    """Restated: parse, decode, bilinear resizes, the blur, one_hot; used in a tf.data map."""
    features = {
        "image": tf.io.FixedLenFeature([], tf.string),
        "heatmap": tf.io.FixedLenFeature([], tf.string),
        "label": tf.io.FixedLenFeature([], tf.int64),
    }
    kernel = tf.constant(upstream_gaussian_kernel())
    records = tf.data.TFRecordDataset(hz.sample_shards()).take(6)
    parsed = records.map(hz.parse_clickme_prototype)
    for record, (image, heatmap, label) in zip(records, parsed):
        data = tf.io.parse_single_example(record, features)
        ref_image = tf.image.resize(
            tf.cast(tf.io.decode_jpeg(data["image"]), tf.float32), (224, 224)
        )
        heat = tf.cast(tf.io.decode_jpeg(data["heatmap"]), tf.float32)
        heat = tf.image.resize(heat, (64, 64))
        heat = tf.nn.conv2d(heat[None], kernel, [1, 1, 1, 1], "SAME")[0]
        ref_heatmap = tf.image.resize(heat, (224, 224))
        np.testing.assert_allclose(image.numpy(), ref_image.numpy(), atol=1e-3)
        np.testing.assert_allclose(heatmap.numpy(), ref_heatmap.numpy(), atol=1e-3)
        assert label.shape == (1000,) and int(np.argmax(label)) == int(data["label"])
        assert float(tf.reduce_sum(label)) == 1.0


def test_bucket_url_is_where_the_registry_downloads_the_archive() -> None:
    from neural_datasets.registry import get_spec

    spec = get_spec("arcaro2020")
    assert spec.url(spec.files[0], None) == nh.BUCKET_URL


def test_a_published_projects_import_line_runs(tmp_path: Path) -> None:
    """The import a published project makes from clickme_dataset, in a plain script."""
    script = tmp_path / "project.py"
    script.write_text(
        textwrap.dedent(
            """
            from neural_datasets.compat.harmonization import (
                FEATURE_DESCRIPTION, GAUSSIAN_KERNEL, AUTO, gaussian_blur, CLICKME_BASE_URL,
                NB_VAL_SHARDS,
            )
            import tensorflow as tf

            ds = tf.data.TFRecordDataset([SHARD_PATH]).map(
                lambda r: tf.io.parse_single_example(r, FEATURE_DESCRIPTION),
                num_parallel_calls=AUTO,
            )
            heat = tf.cast(tf.io.decode_jpeg(next(iter(ds))["heatmap"]), tf.float32)
            blurred = gaussian_blur(tf.image.resize(heat, (64, 64)), GAUSSIAN_KERNEL)
            print(blurred.shape, NB_VAL_SHARDS, CLICKME_BASE_URL.split("/")[-1])
            """
        ).replace("SHARD_PATH", repr(hz.sample_shards()[0]))
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "(64, 64, 1) 17 click-me"
