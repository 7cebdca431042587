"""ClickMe's split and filters: clear refusals, honest counts, reprs that show the view."""

from __future__ import annotations

import pytest

import neural_datasets as nd
from neural_datasets.errors import InvalidArgumentError


def test_the_registry_name_opens_the_same_split() -> None:
    by_name = nd.ClickMe("clickme-sample[:10]", progress=False)
    by_split = nd.ClickMe("sample[:10]", progress=False)
    assert by_name.name == by_split.name == "clickme-sample" and len(by_name) == 10
    assert (by_name.read_batch([3])["label"] == by_split.read_batch([3])["label"]).all()


def test_wrong_split_types_and_near_misses() -> None:
    with pytest.raises(TypeError, match=r"split=42: expected a ClickMe split"):
        nd.ClickMe(42, progress=False)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"Did you mean 'val'\?"):
        nd.ClickMe("vall", progress=False)


def test_an_empty_view_counts_what_it_was_cut_from() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        nd.ClickMe("sample[48:]", progress=False)
    message = str(caught.value)
    assert "the slice [48:] selects none of the 48 samples" in message
    assert "split='sample[48:]'" not in message  # the view never had 48 samples
    whole = nd.ClickMe("sample", progress=False)
    with pytest.raises(InvalidArgumentError) as caught:
        whole.subset(slice(10, 20)).subset(classes=[999])
    assert str(caught.value) == (
        "subset(classes=[999]) selects none of the 10 samples of "
        "ClickMe(split='sample', subset(indices=slice(10, 20, None))); widen it."
    )


def test_reprs_show_the_filters() -> None:
    view = nd.ClickMe("sample[:30]", classes=[3, "tiger shark"], progress=False)
    assert repr(view).startswith(
        "ClickMe(split='sample[:30]', classes=[3, 'tiger shark'], samples=1, location="
    )
    narrower = nd.ClickMe("sample", indices=[4, 2, 7], progress=False).subset(slice(0, 2))
    assert repr(narrower).startswith(
        "ClickMe(split='sample', indices=[4, 2, 7], subset(indices=slice(0, 2, None)), samples=2,"
    )
