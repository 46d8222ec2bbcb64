"""Atomic writes: a failed write names the file, leaves no temp file and keeps the old content."""

import errno

import pytest

from ops_pipelines.lib.files import atomic_write, atomic_write_bytes


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"), OSError("[Errno 28] No space left on device")])
def test_a_write_that_fails_names_the_file_and_leaves_the_old_one(tmp_path, error):
    target = tmp_path / "day" / "2026-03-02.parquet"
    atomic_write_bytes(target, b"old")

    def half(fh):
        fh.write(b"half a file")
        raise error

    with pytest.raises(OSError) as raised:
        atomic_write(target, half)
    assert f"cannot write {target}: " in str(raised.value) and str(raised.value).endswith("No space left on device")
    assert raised.value.errno in (errno.ENOSPC, None) and raised.value.__cause__ is error
    assert target.read_bytes() == b"old" and sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_a_folder_that_cannot_be_created_is_named_too(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError, match=f"cannot write {tmp_path}/file/sub/a.json"):
        atomic_write_bytes(tmp_path / "file" / "sub" / "a.json", b"{}")
