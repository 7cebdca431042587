"""The fault matrix of issue 12: no fault ever reads as data.

One named test per fault: a damaged cache, a bad upstream file, a bad argument.
Each fault must end in a repair or in one clear error that names what happened
and what to do; never in silently wrong data, a traceback or a leftover file.
"""

from __future__ import annotations

import errno
import io
import json
import shutil
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from support.arcaro_sample import archive_members, write_archive
from support.httpserver import Fault
from support.shardgen import write_shards

import neural_datasets as nd
from neural_datasets import registry
from neural_datasets.cli import main
from neural_datasets.errors import ConversionError, CorruptStoreError, InvalidFileError
from neural_datasets.fetching.archives import ZipArchive
from neural_datasets.fetching.cache import dataset_cache
from neural_datasets.fetching.hashes import ReplacedRecordWarning, UnpinnedFileWarning
from neural_datasets.formats.validate import format_problem
from neural_datasets.storage import layout, manifest
from neural_datasets.storage.reader import ShardedArray

CLICKME, IT = "clickme-sample", "arcaro2020-sample"


@pytest.fixture
def clickme(tmp_path: Path) -> Path:
    return nd.fetch(CLICKME, cache_dir=tmp_path / "cache", progress=False)


@pytest.fixture
def it_store(tmp_path: Path) -> Path:
    return nd.fetch(IT, cache_dir=tmp_path / "cache", progress=False)


def _verify(name: str, store: Path) -> list[str]:
    return nd.verify(name, cache_dir=store.parents[1], progress=False)


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


# 2. Every array and metadata file is checksummed.


@pytest.mark.parametrize("name", [CLICKME, IT])
def test_manifest_covers_every_file_of_the_store(tmp_path: Path, name: str) -> None:
    store = nd.fetch(name, cache_dir=tmp_path, progress=False)
    listed = manifest.read_manifest(store)
    on_disk = {p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file()}
    uncovered = on_disk - set(listed) - {manifest.MANIFEST_FILE, manifest.MARKER_FILE}
    assert uncovered == set()
    assert {"zarr.json", "label/c/0", "checksums/image/c/0"} <= set(listed) or name == IT
    assert {"george_stimulus_size/c/0/0", "red_time/zarr.json"} <= set(listed) or name == CLICKME


def test_flipped_label_chunk_raises_and_fails_verify(clickme: Path) -> None:
    _flip(clickme / "label" / "c" / "0", 8 * 5)  # sample 5's label
    with pytest.raises(CorruptStoreError, match=r"label/c/0 fails its crc32c"):
        nd.ClickMe.open(clickme)
    assert any(p.startswith("label/c/0: fails its crc32c") for p in _verify(CLICKME, clickme))


def test_deleted_label_chunk_raises_naming_the_file(clickme: Path) -> None:
    (clickme / "label" / "c" / "0").unlink()
    with pytest.raises(CorruptStoreError, match=r"label/c/0 is missing.*neural-datasets rm"):
        nd.ClickMe.open(clickme)
    assert "label/c/0: missing" in " ".join(_verify(CLICKME, clickme))


def test_deleted_stimulus_size_chunk_raises_instead_of_cropping(it_store: Path) -> None:
    (it_store / "george_stimulus_size" / "c" / "0" / "0").unlink()
    it = nd.ITRecordings.open(it_store)
    with pytest.raises(CorruptStoreError, match="george_stimulus_size/c/0/0 is missing"):
        it.stimuli("george_posterior_it")


def test_stray_file_in_the_store_is_flagged_by_verify(clickme: Path) -> None:
    (clickme / "image" / "c" / "0" / "0" / "0" / ".0.4242.tmp").write_bytes(b"left over")
    assert _verify(CLICKME, clickme) == [
        "image/c/0/0/0/.0.4242.tmp: not covered by the checksum manifest (a stray file)"
    ]


# 3. A store is complete only when its sealed manifest says so.


def test_deleted_manifest_makes_the_store_incomplete_and_fetch_rebuilds(clickme: Path) -> None:
    (clickme / manifest.MANIFEST_FILE).unlink()
    problems = _verify(CLICKME, clickme)
    assert len(problems) == 1 and "no checksum manifest" in problems[0]
    assert main(["verify", CLICKME, "--no-progress", "--cache-dir", str(clickme.parents[1])]) == 1
    assert nd.fetch(CLICKME, cache_dir=clickme.parents[1], progress=False) == clickme
    assert _verify(CLICKME, clickme) == []


def test_store_holding_only_its_root_zarr_json_is_not_complete(tmp_path: Path) -> None:
    cache = dataset_cache(CLICKME, tmp_path)
    cache.store.mkdir(parents=True)
    layout.create_group(cache.store, {"neural_datasets": {"format_version": 1}})
    assert not cache.is_published()
    assert "no completion marker" in _verify(CLICKME, cache.store)[0]
    assert nd.fetch(CLICKME, cache_dir=tmp_path, progress=False) == cache.store
    assert len(nd.ClickMe.open(cache.store)) == 48 and _verify(CLICKME, cache.store) == []


def test_edited_manifest_breaks_the_seal(clickme: Path) -> None:
    path = clickme / manifest.MANIFEST_FILE
    meta = json.loads(path.read_text())
    meta["attributes"]["neural_datasets_manifest"]["files"].pop("label/c/0")
    path.write_text(json.dumps(meta))
    assert not dataset_cache(CLICKME, clickme.parents[1]).is_published()
    assert "does not match its completion marker" in _verify(CLICKME, clickme)[0]


def test_publish_refuses_an_array_missing_chunk_files(tmp_path: Path) -> None:
    building = tmp_path / "b"
    layout.create_sample_array(
        building, "x", shape=(8, 2), dtype="uint8", dimension_names=("s", "c"), samples_per_shard=4
    )
    from neural_datasets.storage.writer import write_samples

    write_samples(building, "x", 0, np.ones((4, 2), np.uint8))  # shard 1 never written
    with pytest.raises(
        CorruptStoreError, match=r"array '(checksums/)?x' lacks 1 of its 2 chunk files"
    ):
        layout.publish(building, tmp_path / "final", {})
    assert not (tmp_path / "final").exists()


# 4. Missing data raises; fill values never stand in.


def test_missing_image_shard_raises_naming_the_file(clickme: Path) -> None:
    shard = clickme / "image" / "c" / "0" / "0" / "0" / "0"
    shard.unlink()
    ds = nd.ClickMe.open(clickme)
    with pytest.raises(CorruptStoreError, match=f"{shard} .*the shard file is missing.*rm"):
        ds.read_batch([3])


def test_shard_removed_while_a_reader_is_open_raises(clickme: Path) -> None:
    ds = nd.ClickMe.open(clickme)
    (clickme / "heatmap" / "c" / "0" / "0" / "0").unlink()
    with pytest.raises(CorruptStoreError, match="heatmap/c/0/0/0 .*missing"):
        ds[0]


def test_missing_it_responses_shard_raises(it_store: Path) -> None:
    (it_store / "george_responses" / "c" / "0" / "0" / "0" / "0" / "0").unlink()
    it = nd.ITRecordings.open(it_store)
    with pytest.raises(CorruptStoreError, match="george_responses/c/0/0/0/0/0 .*missing"):
        it.responses("george_posterior_it")


def test_chunk_missing_from_a_shard_index_raises(clickme: Path) -> None:
    shard = clickme / "heatmap" / "c" / "0" / "0" / "0"
    data = bytearray(shard.read_bytes())
    index_at = len(data) - 48 * 16 - 4
    data[index_at + 16 * 7 : index_at + 16 * 8] = b"\xff" * 16  # chunk 7 marked empty
    import google_crc32c

    data[-4:] = google_crc32c.value(bytes(data[index_at:-4])).to_bytes(4, "little")
    shard.write_bytes(bytes(data))
    with pytest.raises(CorruptStoreError, match="chunk 7 .*is missing"):
        ShardedArray(clickme / "heatmap").take(np.array([7]))


# 5. Checksum-on-read.


def test_flipped_image_byte_raises_on_read(clickme: Path) -> None:
    _flip(clickme / "image" / "c" / "0" / "0" / "0" / "0", 7 * 256 * 256 * 3 + 1000)
    ds = nd.ClickMe.open(clickme)
    np.testing.assert_array_equal(ds.read_batch([6, 8])["label"], ds.labels[[6, 8]])
    with pytest.raises(CorruptStoreError, match=r"sample 7 \(chunk 7\) fails its crc32c"):
        ds.read_batch([6, 7])


# 6. Trust on first use validates before trusting.


def test_html_page_is_never_recorded_and_the_next_fetch_recovers(tmp_path: Path, served) -> None:
    server, files = served
    page = b"<!DOCTYPE html>\n<html><body>Please sign in to the Wi-Fi</body></html>"
    server.state.add_fault(files[0], Fault(body=page))
    with pytest.raises(InvalidFileError, match="is not a valid TFRecord file: it is an HTML page"):
        nd.fetch("clickme-test", cache_dir=tmp_path, progress=False)
    cache = dataset_cache("clickme-test", tmp_path)
    assert files[0] not in json.loads(cache.hashes.read_text() if cache.hashes.exists() else "{}")
    assert [p.read_bytes() for p in cache.quarantine.iterdir()] == [page]
    with pytest.warns(UnpinnedFileWarning, match="a valid TFRecord file"):
        store = nd.fetch("clickme-test", cache_dir=tmp_path, progress=False)
    assert len(nd.ClickMe.open(store)) == 48


@pytest.mark.filterwarnings("ignore::neural_datasets.fetching.hashes.UnpinnedFileWarning")
def test_corrupt_upstream_shard_is_never_recorded(tmp_path: Path, served) -> None:
    server, files = served
    good = (server.state.root / files[1]).read_bytes()
    bad = bytearray(good)
    bad[5000] ^= 0x01  # inside record 0's data: its CRC no longer matches
    server.state.add_fault(files[1], Fault(body=bytes(bad)))
    with pytest.raises(InvalidFileError, match=r"record 0 .*bad data checksum"):
        nd.fetch("clickme-test", cache_dir=tmp_path, progress=False)
    records = json.loads(dataset_cache("clickme-test", tmp_path).hashes.read_text())
    assert files[1] not in records and files[0] in records


def test_recorded_garbage_is_forgotten_and_fetched_once_more(
    tmp_path: Path, served, capsys
) -> None:
    import hashlib

    server, files = served
    cache = dataset_cache("clickme-test", tmp_path)
    page = b"<html>captive portal</html>"
    cache.raw_file(files[0]).parent.mkdir(parents=True)
    cache.raw_file(files[0]).write_bytes(page)
    cache.hashes.write_text(
        json.dumps({files[0]: {"sha256": hashlib.sha256(page).hexdigest(), "size": len(page)}})
    )
    with pytest.warns(UnpinnedFileWarning):
        store = nd.fetch("clickme-test", cache_dir=tmp_path, progress=False)
    assert "matches the checksum recorded at its first download but is not a valid" in (
        capsys.readouterr().err
    )
    assert len(nd.ClickMe.open(store)) == 48 and server.state.count(files[0]) == 1
    recorded = json.loads(cache.hashes.read_text())[files[0]]
    assert recorded["size"] == (server.state.root / files[0]).stat().st_size
    assert recorded["validated"] == "TFRecord"


def test_unvalidated_record_of_a_bad_download_does_not_block_the_fixed_mirror(
    tmp_path: Path, served
) -> None:
    server, files = served
    cache = dataset_cache("clickme-test", tmp_path)
    cache.folder.mkdir(parents=True)
    legacy = {"sha256": "0" * 64, "size": 27, "url": "http://portal/"}  # no "validated" key
    cache.hashes.write_text(json.dumps({files[0]: legacy}))
    with pytest.warns(ReplacedRecordWarning, match="was never validated; this download is a valid"):
        store = nd.fetch("clickme-test", cache_dir=tmp_path, progress=False)
    assert len(nd.ClickMe.open(store)) == 48
    assert json.loads(cache.hashes.read_text())[files[0]]["validated"] == "TFRecord"


def test_keras_named_shard_without_extension_is_validated(tmp_path: Path) -> None:
    files = write_shards(tmp_path, 1, 3)
    keras = tmp_path / "clickme_train_0"
    shutil.copyfile(tmp_path / files[0], keras)
    declared = registry.get_spec(CLICKME).file_format  # the dataset's spec names the format
    assert format_problem(keras) == format_problem(keras, declared) == ("TFRecord", None)
    keras.write_bytes(keras.read_bytes()[:-100])
    kind, problem = format_problem(keras, declared)
    assert kind == "TFRecord" and "truncated record data" in problem
    keras.write_bytes(b"\x00garbage that is neither a page nor a record")
    kind, problem = format_problem(keras, declared)
    assert kind == "TFRecord" and "bad length checksum in record header" in problem
    keras.write_bytes(b"<html><body>404</body></html>")
    assert "HTML page" in format_problem(keras, declared)[1]


def test_zip_with_a_crc_error_is_not_valid(tmp_path: Path) -> None:
    path = _zip_with_bad_crc(tmp_path / "Arcaro2020.zip")
    kind, problem = format_problem(path)
    assert kind == "zip" and "fails its CRC-32 check" in problem


def test_pinned_mismatch_advice_does_not_blame_the_records(tmp_path: Path, http_mirror) -> None:
    spec = registry.get_spec(CLICKME)
    http_mirror.state.add_fault(spec.files[0].path, Fault(body=b"<html>wrong mirror</html>"))
    with pytest.raises(nd.ChecksumMismatchError) as info:
        nd.fetch(CLICKME, cache_dir=tmp_path, base_url=http_mirror.url, progress=False)
    message = str(info.value)
    assert "pins this checksum" in message and "check your network and base_url=" in message
    assert "is not a valid TFRecord file: it is an HTML page" in message
    assert f"delete {tmp_path}" not in message and "to trust the new file" not in message


# 10. One clear message, exit status 1.


def _zip_with_bad_crc(path: Path, member: str = "Arcaro2020/George/natural_test/a.jpg") -> Path:
    members = archive_members()
    write_archive(path, members)
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith((".jpg", ".png")))
    raw = bytearray(path.read_bytes())
    name_len, extra_len = struct.unpack_from("<HH", raw, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    raw[start + info.compress_size // 2] ^= 0x55  # damage the deflated data
    path.write_bytes(bytes(raw))
    return path


def _convert_it(tmp_path: Path, archive: Path) -> None:
    from neural_datasets.datasets.arcaro2020.convert import convert

    building = tmp_path / "building"
    building.mkdir()
    convert(registry.get_spec(IT), {"Arcaro2020.zip": archive}, building, progress=False)


def test_stimulus_with_a_crc_error_is_one_message(tmp_path: Path) -> None:
    archive = _zip_with_bad_crc(tmp_path / "Arcaro2020.zip")
    with pytest.raises(ConversionError, match=r"Arcaro2020.zip:Arcaro2020/.* is damaged"):
        _convert_it(tmp_path, archive)


def test_pil_decompression_bomb_is_one_message(tmp_path: Path) -> None:
    members = archive_members()
    stimulus = next(name for name in members if name.startswith("George/natural_test/"))
    members[stimulus] = _png_header(30_000, 30_000)
    archive = write_archive(tmp_path / "Arcaro2020.zip", members)
    with pytest.raises(ConversionError, match="declares an image too large to be a stimulus"):
        _convert_it(tmp_path, archive)


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_zip_bomb_member_is_refused_without_inflating_it(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "bomb.zip"
    member = "Arcaro2020/George/natural_test/a.jpg"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open(member, "w", force_zip64=True) as out,
    ):
        zeros = bytes(1 << 20)
        for _ in range(256):  # 256 MiB of zeros deflate to about 256 KiB
            out.write(zeros)
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    with (
        ZipArchive(path, top="Arcaro2020") as archive,
        pytest.raises(ConversionError, match="a zip bomb, not data"),
    ):
        archive.read("George/natural_test/a.jpg")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 << 20


def test_preview_of_zero_samples_is_one_message(tmp_path: Path, capsys) -> None:
    argv = ["preview", CLICKME, "-o", str(tmp_path / "p.png"), "-n", "0"]
    assert main([*argv, "--cache-dir", str(tmp_path)]) == 2  # a usage error
    err = capsys.readouterr().err
    assert err.startswith("usage: neural-datasets preview") and "Traceback" not in err
    assert "neural-datasets preview: error: -n 0" in err


def test_preview_into_a_folder_is_one_message(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    assert main(["preview", CLICKME, "-o", f"{folder}/", "--cache-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "that is a folder; give the PNG file to write" in err and "Traceback" not in err


@pytest.mark.parametrize("damaged", ["label/c/0", "image/zarr.json"])
def test_preview_meeting_a_truncated_file_is_one_message(
    clickme: Path, capsys, damaged: str
) -> None:
    path = clickme / damaged
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    argv = ["preview", CLICKME, "-o", str(clickme.parent / "p.png")]
    assert main([*argv, "--cache-dir", str(clickme.parents[1])]) == 1
    err = capsys.readouterr().err
    assert damaged in err and "neural-datasets rm" in err and "Traceback" not in err


# 11. Nothing temporary is ever inside a published store.


def test_disk_full_during_a_shard_write_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neural_datasets.storage import writer

    real_open = open
    calls = {"n": 0}

    class FullDisk(io.FileIO):
        def write(self, data):  # type: ignore[no-untyped-def]
            super().write(bytes(memoryview(data)[:100]))
            raise OSError(errno.ENOSPC, "No space left on device", self.name)

    def open_on_full_disk(file, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
        if "w" in mode and str(file).endswith(".tmp") and calls["n"] == 0:
            calls["n"] += 1
            return FullDisk(file, "w")
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(writer, "open", open_on_full_disk, raising=False)
    with pytest.raises(OSError, match="No space left"):
        nd.fetch(CLICKME, cache_dir=tmp_path, progress=False)
    building = dataset_cache(CLICKME, tmp_path).building
    assert [p for p in building.rglob("*") if ".tmp" in p.name and p.is_file()] == []
    store = nd.fetch(CLICKME, cache_dir=tmp_path, progress=False)  # the retry
    assert not [p for p in store.rglob("*") if layout.is_temporary(p.name)]
    assert _verify(CLICKME, store) == []


def test_resumed_conversion_publishes_no_temporaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = registry.get_spec(CLICKME)

    def convert_leaving_a_temporary(spec, sources, building, *, progress):  # type: ignore[no-untyped-def]
        extra = spec_convert(spec, sources, building, progress=progress)
        # What a worker killed mid-write leaves behind, then a resumed run completes around it.
        (building / "image" / "c" / "0" / "0" / "0" / ".0.31337.tmp").write_bytes(b"partial")
        return extra

    spec_convert = spec.convert
    from dataclasses import replace

    monkeypatch.setitem(
        registry.REGISTRY, CLICKME, replace(spec, convert=convert_leaving_a_temporary)
    )
    store = nd.fetch(CLICKME, cache_dir=tmp_path, progress=False)
    assert not [p for p in store.rglob("*") if ".tmp" in p.name]
    assert _verify(CLICKME, store) == []


# 12. rm and pin say what is true.


def test_rm_on_a_read_only_cache_names_the_cause(
    clickme: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import neural_datasets.fetching.fetch as fetch_module

    def read_only(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(fetch_module.shutil, "rmtree", read_only)
    assert main(["rm", CLICKME, "--cache-dir", str(clickme.parents[1])]) == 1
    err = capsys.readouterr().err
    assert "Cannot remove clickme-sample" in err and "read-only" in err
    assert "holds no complete copy" not in err


def test_rm_when_the_lock_cannot_be_created_names_the_cause(
    clickme: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import filelock

    def read_only(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(errno.EROFS, "Read-only file system", str(self.lock_file))

    monkeypatch.setattr(filelock.FileLock, "acquire", read_only)
    assert main(["rm", CLICKME, "--cache-dir", str(clickme.parents[1])]) == 1
    err = capsys.readouterr().err
    assert "the cache is read-only to you (Read-only file system" in err
    assert "holds no complete copy" not in err and clickme.is_dir()


def test_rm_of_a_never_fetched_dataset_creates_nothing(tmp_path: Path, capsys) -> None:
    assert main(["rm", "clickme-val", "--cache-dir", str(tmp_path)]) == 0
    assert "nothing to remove" in capsys.readouterr().out
    assert not (tmp_path / "clickme-val").exists()


def test_pin_after_fetching_the_pinned_sample_says_so(clickme: Path, capsys) -> None:
    assert main(["pin", CLICKME, "--cache-dir", str(clickme.parents[1])]) == 0
    assert "already pinned in the registry" in capsys.readouterr().err


def test_missing_shard_met_by_the_command_line_is_repaired(clickme: Path) -> None:
    import subprocess
    import sys

    (clickme / "image" / "c" / "0" / "0" / "0" / "0").unlink()
    argv = ["preview", CLICKME, "-o", str(clickme.parent / "p.png")]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "neural_datasets.cli",
            *argv,
            "--cache-dir",
            str(clickme.parents[1]),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # fetch notices a file the manifest lists is gone, says so, and rebuilds from the raw files
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert done.stderr.startswith("neural-datasets: ") and len(done.stderr.splitlines()) == 1
    assert "lacks 1 of the files its manifest lists (e.g. image/c/0/0/0/0)" in done.stderr
    assert (clickme / "image" / "c" / "0" / "0" / "0" / "0").is_file()
