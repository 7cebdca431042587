"""Index coercion follows numpy; split strings slice like TFDS / Hugging Face."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_datasets.datasets.indexing import coerce_index, parse_split, split_positions

sizes = st.integers(min_value=1, max_value=40)


@given(sizes.flatmap(lambda n: st.tuples(st.just(n), st.integers(-n, n - 1))))
def test_integers_match_numpy(case: tuple[int, int]) -> None:
    n, i = case
    positions, scalar = coerce_index(i, n)
    assert scalar and positions.tolist() == [np.arange(n)[i]]
    assert coerce_index(np.int16(i), n)[0].tolist() == [np.arange(n)[i]]


@given(
    sizes,
    st.one_of(st.none(), st.integers(-50, 50)),
    st.one_of(st.none(), st.integers(-50, 50)),
    st.one_of(st.none(), st.integers(-5, 5).filter(lambda s: s != 0)),
)
def test_slices_match_numpy(n: int, start: int | None, stop: int | None, step: int | None) -> None:
    index = slice(start, stop, step)
    positions, scalar = coerce_index(index, n)
    assert not scalar and positions.tolist() == np.arange(n)[index].tolist()


@given(sizes.flatmap(lambda n: st.tuples(st.just(n), st.lists(st.integers(-n, n - 1)))))
def test_integer_arrays_match_numpy(case: tuple[int, list[int]]) -> None:
    n, indices = case
    expected = np.arange(n)[np.asarray(indices, dtype=np.int64)].tolist()
    assert coerce_index(indices, n)[0].tolist() == expected
    assert coerce_index(np.asarray(indices, dtype=np.int32), n)[0].tolist() == expected


@given(sizes.flatmap(lambda n: st.lists(st.booleans(), min_size=n, max_size=n)))
def test_boolean_masks_match_numpy(mask: list[bool]) -> None:
    n = len(mask)
    assert coerce_index(np.array(mask), n)[0].tolist() == np.arange(n)[np.array(mask)].tolist()
    assert coerce_index(mask, n)[0].tolist() == np.flatnonzero(mask).tolist()


@given(sizes, st.integers(1, 100))
def test_out_of_range_is_an_index_error(n: int, beyond: int) -> None:
    for bad in (n - 1 + beyond, -n - beyond):
        with pytest.raises(IndexError, match="out of range"):
            coerce_index(bad, n)
        with pytest.raises(IndexError, match="out of range"):
            coerce_index([0, bad], n)


@pytest.mark.parametrize(
    "bad", [1.0, np.float32(2), [0.5, 1.0], "3", (0, 1), None, True, np.bool_(False), [[0, 1]]]
)
def test_other_kinds_are_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match="integers, slices, integer arrays or boolean masks"):
        coerce_index(bad, 5)


def test_a_mask_of_the_wrong_length_is_an_index_error() -> None:
    with pytest.raises(IndexError, match="length 3 for 5"):
        coerce_index([True, False, True], 5)


def test_empty_index_gives_no_positions() -> None:
    for empty in ([], np.array([], dtype=np.int64), slice(3, 3)):
        positions, scalar = coerce_index(empty, 5)
        assert positions.dtype == np.int64 and positions.size == 0 and not scalar


@pytest.mark.parametrize(
    ("split", "n", "expected"),
    [
        ("train", 10, list(range(10))),
        ("train[:10%]", 48, [0, 1, 2, 3, 4]),  # 4.8 rounds to 5
        ("train[:25%]", 48, list(range(12))),
        ("train[-25%:]", 48, list(range(36, 48))),
        ("train[10%:20%]", 100, list(range(10, 20))),
        ("val[2:5]", 48, [2, 3, 4]),
        ("val[-3:]", 48, [45, 46, 47]),
        ("val[:512]", 48, list(range(48))),  # like Python, a stop past the end is the end
    ],
)
def test_split_strings(split: str, n: int, expected: list[int]) -> None:
    _, text = parse_split(split)
    assert split_positions(text, n).tolist() == expected


@pytest.mark.parametrize("bad", ["train[", "train[1:2:3]", "train[a:]", "train[:150%]", "[:5]"])
def test_malformed_split_strings_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="split"):
        name, text = parse_split(bad)
        split_positions(text, 10)


@settings(max_examples=50)
@given(st.integers(0, 100), st.integers(1, 2000))
def test_percent_slices_partition_the_split(percent: int, n: int) -> None:
    head = split_positions(f":{percent}%", n)
    tail = split_positions(f"{percent}%:", n)
    assert np.array_equal(np.concatenate([head, tail]), np.arange(n))
    assert abs(len(head) - percent * n / 100) <= 0.5


def test_it_pairs_index_like_numpy(tmp_path) -> None:
    import neural_datasets as nd
    from neural_datasets.datasets.arcaro2020.pairs import ITPairSource

    it = nd.ITRecordings("arcaro2020-sample", cache_dir=tmp_path, progress=False)
    pairs = ITPairSource(it, "red_central_it", (50, 90), stimulus_size=32)
    every = pairs.read_batch(slice(None))
    mask = np.array([False, True, False, True])
    assert np.array_equal(pairs.read_batch(mask)["response"], every["response"][[1, 3]])
    assert np.array_equal(pairs.read_batch([-1])["stimulus"], every["stimulus"][[3]])
    empty = pairs.read_batch([])
    assert empty["stimulus"].shape == (0, 32, 32, 3) and empty["response"].shape == (0, 9, 9, 32)
    with pytest.raises(TypeError):
        pairs.read_batch([0.5])
    with pytest.raises(IndexError):
        pairs.read_batch([4])
