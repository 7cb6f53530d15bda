"""Manifests of cached artifacts: what is recorded, and every way an entry can fail its check."""

import hashlib
import json
import logging

import pytest

import drift.utils.manifest as manifest
from drift.errors import ConfigError
from drift.utils.manifest import MANIFEST, check_manifest, file_digest, reusable, write_manifest


@pytest.fixture
def entry(tmp_path):
    """A complete cache entry: two files, one in a subdirectory, and its manifest."""
    root = tmp_path / "entry"
    (root / "sub").mkdir(parents=True)
    (root / "model.safetensors").write_bytes(bytes(range(256)) * 40)
    (root / "sub" / "config.json").write_text('{"a": 1}')
    write_manifest(root)
    return root


def test_manifest_records_every_file_with_size_and_sha256(entry):
    recorded = json.loads((entry / MANIFEST).read_text())["files"]
    assert sorted(recorded) == ["model.safetensors", "sub/config.json"]
    data = (entry / "model.safetensors").read_bytes()
    assert recorded["model.safetensors"] == {
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert file_digest(entry / "model.safetensors") == hashlib.sha256(data).hexdigest()
    assert check_manifest(entry) is None


def test_a_truncated_file_is_named_with_both_sizes(entry):
    path = entry / "model.safetensors"
    path.write_bytes(path.read_bytes()[:1000])
    assert check_manifest(entry) == "model.safetensors has 1000 bytes, the manifest says 10240"


def test_same_size_corruption_is_caught_by_the_hash(entry, monkeypatch):
    path = entry / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[5000] ^= 0xFF
    path.write_bytes(bytes(data))
    assert "model.safetensors differs from the manifest (sha256" in check_manifest(entry)
    assert check_manifest(entry, content=False) is None  # sizes only
    # Above CONTENT_CHECK_BYTES the default compares sizes only (hashing GBs at every reuse)
    monkeypatch.setattr(manifest, "CONTENT_CHECK_BYTES", 100)
    assert check_manifest(entry) is None
    assert check_manifest(entry, content=True) is not None


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda e: (e / MANIFEST).unlink(), "no manifest"),
        (lambda e: (e / MANIFEST).write_text('{"files": '), "unreadable manifest"),
        (lambda e: (e / MANIFEST).write_text('{"files": {"x": {}}}'), "unreadable manifest"),
        (lambda e: (e / "sub" / "config.json").unlink(), "sub/config.json is missing"),
    ],
)
def test_missing_or_broken_manifest_or_file_fails_the_check(entry, damage, expected):
    damage(entry)
    assert expected in check_manifest(entry)


def test_reusable_warns_with_the_path_and_the_mismatch(entry, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="drift.utils.manifest")
    assert reusable(entry, "reference policy")
    assert not reusable(tmp_path / "absent", "reference policy")  # a plain miss: no warning
    assert caplog.records == []
    (entry / "model.safetensors").write_bytes(b"")
    assert not reusable(entry, "reference policy")
    (record,) = caplog.records
    assert str(entry) in record.message and "model.safetensors has 0 bytes" in record.message
    assert "reference policy" in record.message and "rebuilding" in record.message


def test_an_explicit_file_list_and_manifest_name(tmp_path):
    (tmp_path / "a.npy").write_bytes(b"abc")
    (tmp_path / "b.json").write_text("[]")
    (tmp_path / "other").write_text("not part of it")
    write_manifest(tmp_path, ["a.npy", "b.json"], name="manifest-00000.json")
    assert check_manifest(tmp_path, "manifest-00000.json") is None
    assert "no manifest" in check_manifest(tmp_path)  # the default name was not written
    (tmp_path / "other").write_text("changed")  # not listed: not checked
    assert check_manifest(tmp_path, "manifest-00000.json") is None


def test_a_file_linked_out_of_the_entry_makes_it_broken(entry, tmp_path, caplog):
    outside = tmp_path / "outside.safetensors"
    outside.write_bytes((entry / "model.safetensors").read_bytes())  # same size and hash
    (entry / "model.safetensors").unlink()
    (entry / "model.safetensors").symlink_to(outside)
    assert "model.safetensors is a symbolic link to" in check_manifest(entry)
    with caplog.at_level(logging.WARNING):
        assert not reusable(entry, "reference policy")
    assert "outside the entry" in caplog.text


def test_an_entry_linked_out_of_the_cache_is_refused(entry, tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "reference-k").symlink_to(entry)
    with pytest.raises(ConfigError, match=r"cached reference policy .*reference-k is a symbolic"):
        reusable(tmp_path / "cache" / "reference-k", "reference policy")
