"""ClickMe subsets: split slicing, classes= and indices= are views that work everywhere."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neural_datasets as nd
from neural_datasets.adapters.sampling import EpochPlan


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("subsets")


@pytest.fixture(scope="module")
def clickme(cache) -> nd.ClickMe:
    return nd.ClickMe("sample", cache_dir=cache, progress=False)


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key


@pytest.mark.parametrize(
    ("split", "positions"),
    [
        ("sample[:25%]", slice(0, 12)),
        ("sample[:10%]", slice(0, 5)),
        ("sample[-25%:]", slice(36, 48)),
        ("sample[10:20]", slice(10, 20)),
        ("sample[:512]", slice(0, 48)),
    ],
)
def test_split_slices_equal_the_same_slice_of_the_split(
    cache, clickme: nd.ClickMe, split: str, positions: slice
) -> None:
    view = nd.ClickMe(split, cache_dir=cache, progress=False)
    expected = clickme[positions]
    assert len(view) == len(expected["label"])
    _same(view.read_batch(np.arange(len(view))), expected)
    _same(view[:], expected)
    assert view.location == clickme.location  # a view over the same store, nothing copied
    assert view.split == split and split in repr(view)


def test_indices_and_classes(cache, clickme: nd.ClickMe) -> None:
    picked = [40, 3, 17, 3]
    view = nd.ClickMe("sample", indices=picked, cache_dir=cache, progress=False)
    _same(view[:], clickme[picked])
    names = [clickme.label_names[clickme.labels[i]] for i in (5, 30)]
    by_class = nd.ClickMe("sample", classes=names, cache_dir=cache, progress=False)
    _same(by_class[:], clickme[[5, 30]])  # store order kept
    by_number = clickme.subset(classes=[int(clickme.labels[30]), int(clickme.labels[5])])
    _same(by_number[:], clickme[[5, 30]])
    # the slice applies first, then indices, then classes
    combined = nd.ClickMe(
        "sample[4:40]", indices=slice(0, 30), classes=names, cache_dir=cache, progress=False
    )
    _same(combined[:], clickme[[5, 30]])
    assert combined.source(1) == clickme.source(30)


def test_views_of_views_compose(clickme: nd.ClickMe) -> None:
    view = clickme.subset(slice(8, 40)).subset(np.arange(32) % 2 == 0)
    _same(view[:], clickme[8:40:2])
    assert view[-1]["label"] == clickme[38]["label"]


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_indexing_a_view_is_indexing_the_split(clickme: nd.ClickMe, data: st.DataObject) -> None:
    chosen = np.asarray(data.draw(st.lists(st.integers(0, 47), min_size=1, max_size=20)))
    view = clickme.subset(chosen)
    n = len(chosen)
    index = data.draw(
        st.one_of(
            st.integers(-n, n - 1),
            st.lists(st.integers(-n, n - 1), max_size=8).map(lambda x: np.array(x, np.int64)),
            st.lists(st.booleans(), min_size=n, max_size=n).map(np.array),
            st.builds(slice, st.integers(-n, n), st.integers(-n, n)),
        )
    )
    expected = np.atleast_1d(chosen[index])
    got = view[index]
    assert np.array_equal(np.atleast_1d(got["label"]), clickme.labels[expected])
    assert np.array_equal(view.read_batch(index)["image"], clickme.read_batch(expected)["image"])


def test_dataset_indexing_follows_numpy(clickme: nd.ClickMe) -> None:
    _same(clickme[0:4], clickme.read_batch([0, 1, 2, 3]))
    _same(clickme[np.arange(4)], clickme.read_batch([0, 1, 2, 3]))
    mask = np.zeros(48, bool)
    mask[[1, 7]] = True
    _same(clickme[mask], clickme.read_batch([1, 7]))  # not copies of sample 1
    assert clickme[-1]["label"] == clickme.labels[47]
    for bad in (1.0, 2.7, "1", None, (0, 1), [0.5]):
        with pytest.raises(TypeError):
            clickme[bad]
    for bad in (48, -49, [0, 48]):
        with pytest.raises(IndexError):
            clickme[bad]
    empty = clickme.read_batch([])
    assert empty["image"].shape == (0, 256, 256, 3) and empty["image"].dtype == np.uint8
    assert empty["heatmap"].shape == (0, 256, 256) and empty["label"].shape == (0,)


def test_bad_subsets_are_refused(cache) -> None:
    with pytest.raises(nd.InvalidArgumentError, match="selects none of the 48 samples"):
        nd.ClickMe("sample[5:5]", cache_dir=cache, progress=False)
    with pytest.raises(nd.InvalidArgumentError, match="Did you mean"):
        nd.ClickMe("sample", classes=["tiger shrak"], cache_dir=cache, progress=False)
    with pytest.raises(nd.InvalidArgumentError, match="not an ImageNet label"):
        nd.ClickMe("sample", classes=[1000], cache_dir=cache, progress=False)
    with pytest.raises(nd.InvalidArgumentError, match="split='tarin': expected a ClickMe split"):
        nd.ClickMe("tarin[:10%]", cache_dir=cache, progress=False)
    with pytest.raises(nd.InvalidArgumentError, match="percentage"):
        nd.ClickMe("sample[:ten%]", cache_dir=cache, progress=False)


def test_ddp_shards_of_a_slice_are_disjoint_and_inside_it(cache) -> None:
    pytest.importorskip("torch")
    from neural_datasets.torch import loader

    view = nd.ClickMe("sample[:75%]", cache_dir=cache, progress=False)
    inside = set(view.labels.tolist())
    per_rank = []
    for rank in range(2):
        batches = loader(view, 4, seed=1, num_replicas=2, rank=rank)
        batches.set_epoch(3)
        labels = [int(x) for batch in batches for x in batch["label"]]
        plan = EpochPlan(len(view), 4, seed=1, num_replicas=2, rank=rank)
        assert labels == view.labels[plan.indices(3)].tolist()
        per_rank.append(set(labels))
    assert per_rank[0].isdisjoint(per_rank[1])
    # 36 samples: 2 ranks x 4 batches of 4, and the 4 left over are dropped
    assert per_rank[0] | per_rank[1] <= inside
    assert len(per_rank[0]) == len(per_rank[1]) == 16


def test_a_view_through_forked_workers_and_tf_data(cache) -> None:
    pytest.importorskip("torch")
    from neural_datasets.torch import loader

    view = nd.ClickMe("sample", classes=list(range(500)), cache_dir=cache, progress=False)
    batches = loader(
        view, 4, seed=0, drop_last=False, num_workers=2, multiprocessing_context="fork"
    )
    labels = sorted(int(x) for batch in batches for x in batch["label"])
    assert labels == sorted(view.labels.tolist()) and max(labels) < 500

    tf_module = pytest.importorskip("neural_datasets.tf")
    pipeline = tf_module.dataset(view, 4, shuffle=False, drop_remainder=False)
    got = np.concatenate([batch["label"].numpy() for batch in pipeline])
    assert got.tolist() == view.labels.tolist()


def test_a_batch_larger_than_a_slice_is_refused_not_an_empty_epoch(cache) -> None:
    view = nd.ClickMe("sample[:25%]", cache_dir=cache, progress=False)
    pytest.importorskip("torch")
    from neural_datasets.torch import loader

    with pytest.raises(ValueError, match="12 samples give no batch of 16"):
        loader(view, 16)
    assert sum(len(b["label"]) for b in loader(view, 16, drop_last=False)) == 12
    tf_module = pytest.importorskip("neural_datasets.tf")
    with pytest.raises(ValueError, match="12 samples give no batch of 16"):
        tf_module.dataset(view, 16)


def test_the_torch_dataset_indexes_like_numpy_too(clickme: nd.ClickMe) -> None:
    pytest.importorskip("torch")
    from neural_datasets.torch import ClickMeDataset

    ds = ClickMeDataset(clickme.subset(slice(0, 10)))
    assert ds[-1]["label"].item() == clickme.labels[9] and ds[-1]["image"].shape == (3, 256, 256)
    assert ds[2:5]["label"].tolist() == clickme.labels[2:5].tolist()
    with pytest.raises(TypeError):
        ds[[0.5, 1.5]]  # was truncated to samples 0 and 1
    with pytest.raises(IndexError):
        ds[10]
