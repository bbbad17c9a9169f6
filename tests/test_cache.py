import threading

import pytest

from fastbert_variants.cache import MANIFEST, BuildCache


def write_file(folder):
    (folder / "model.bin").write_bytes(b"x" * 1000)
    return {"made": True}


def test_second_request_builds_nothing(tmp_path):
    cache, calls = BuildCache(tmp_path), []
    key = cache.key(model="abc", variant="v")
    first = cache.get_or_build("v", key, lambda f: calls.append(1) or write_file(f))
    second = cache.get_or_build("v", key, lambda f: calls.append(1) or write_file(f))
    assert calls == [1] and first == second and first[1]["info"] == {"made": True}


def test_key_depends_on_every_part(tmp_path):
    cache = BuildCache(tmp_path)
    assert cache.key(model="a", variant="v") != cache.key(model="b", variant="v")
    assert cache.key(model="a", variant="v") != cache.key(model="a", variant="w")
    assert cache.key(model="a", variant="v") == cache.key(variant="v", model="a")


@pytest.mark.parametrize("damage", ["truncate", "flip", "manifest"])
def test_corrupt_entry_is_rebuilt_not_used(tmp_path, damage):
    cache, calls = BuildCache(tmp_path), []
    folder, _ = cache.get_or_build("v", "k", write_file)
    target = folder / ("model.bin" if damage != "manifest" else MANIFEST)
    if damage == "truncate":
        target.write_bytes(b"x" * 10)
    elif damage == "flip":
        target.write_bytes(b"y" * 1000)
    else:
        target.unlink()
    assert not cache.is_valid(folder)
    next_run = BuildCache(tmp_path)
    next_run.get_or_build("v", "k", lambda f: calls.append(1) or write_file(f))
    assert calls == [1] and next_run.is_valid(folder)


def test_an_entry_is_hashed_once_per_process(tmp_path, monkeypatch):
    import fastbert_variants.cache as cache_module

    BuildCache(tmp_path).get_or_build("v", "k", write_file)
    hashed = []
    real_sha256 = cache_module.file_sha256
    monkeypatch.setattr(cache_module, "file_sha256", lambda path: hashed.append(path) or real_sha256(path))
    cache = BuildCache(tmp_path)
    for _ in range(3):
        cache.get_or_build("v", "k", write_file)
    assert len(hashed) == 1  # checked once against its manifest, then trusted for the rest of the run


def test_failed_build_leaves_nothing_behind(tmp_path):
    cache = BuildCache(tmp_path)

    def broken(folder):
        (folder / "half.bin").write_bytes(b"half")
        raise RuntimeError("export crashed")

    with pytest.raises(RuntimeError):
        cache.get_or_build("v", "k", broken)
    assert not cache.entry("v", "k").exists()
    assert [p.name for p in cache.entry("v", "k").parent.iterdir()] == ["k.lock"]


def test_concurrent_runs_build_once(tmp_path):
    cache, calls, results = BuildCache(tmp_path), [], []

    def slow_build(folder):
        calls.append(1)
        threading.Event().wait(0.2)
        return write_file(folder)

    workers = [threading.Thread(target=lambda: results.append(BuildCache(tmp_path).get_or_build("v", "k", slow_build)))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(calls) == 1 and len({str(r[0]) for r in results}) == 1 and cache.is_valid(results[0][0])


def test_without_hashing_a_hit_is_judged_by_size_and_mtime(tmp_path, monkeypatch):
    import os

    import fastbert_variants.cache as cache_module

    folder, _ = BuildCache(tmp_path).get_or_build("v", "k", write_file)
    hashed = []
    real_sha256 = cache_module.file_sha256
    monkeypatch.setattr(cache_module, "file_sha256", lambda path: hashed.append(path) or real_sha256(path))
    assert BuildCache(tmp_path, hash_contents=False).is_valid(folder, hash_contents=False) and hashed == []

    target = folder / "model.bin"
    target.write_bytes(b"y" * 1000)  # same size, other bytes, a new mtime: hashed, found wrong
    os.utime(target, ns=(1, 1))
    calls = []
    BuildCache(tmp_path, hash_contents=False).get_or_build("v", "k", lambda f: calls.append(1) or write_file(f))
    assert calls == [1] and hashed  # rebuilt

    os.utime(target, ns=(2, 2))  # same bytes, another mtime (a copied cache): hashed once, then resealed
    hashed.clear()
    assert BuildCache(tmp_path).is_valid(folder, hash_contents=False) and len(hashed) == 1
    assert BuildCache(tmp_path).is_valid(folder, hash_contents=False) and len(hashed) == 1


def test_a_valid_entry_whose_manifest_cannot_be_resealed_is_used_not_deleted(tmp_path, monkeypatch):
    import os

    import fastbert_variants.cache as cache_module

    folder, _ = BuildCache(tmp_path).get_or_build("v", "k", write_file)
    os.utime(folder / "model.bin", ns=(3, 3))  # same bytes, another mtime: the check wants to re-seal

    def disk_full(path, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_module, "write_atomically", disk_full)
    calls = []
    found, _ = BuildCache(tmp_path).get_or_build("v", "k", lambda f: calls.append(1) or write_file(f))
    assert calls == [] and found == folder and (folder / "model.bin").read_bytes() == b"x" * 1000


@pytest.mark.parametrize("how", ["writable by others", "another owner"])
def test_a_cache_root_others_can_write_is_refused_with_one_line(tmp_path, how):
    import os

    from fastbert_variants.errors import UserError

    root = tmp_path / "cache"
    root.mkdir()
    if how == "writable by others":
        root.chmod(0o777)
    elif os.getuid() == 0:
        os.chown(root, 12345, 12345)
    else:
        pytest.skip("chown to another user needs root")
    with pytest.raises(UserError, match=rf"build cache {root} is .*--cache-dir DIR .*chmod go-w") as refused:
        BuildCache(root).get_or_build("v", "k", write_file)
    assert "\n" not in str(refused.value) and not (root / "builds").exists()


@pytest.fixture
def nearly_full_disk(tmp_path):
    """A 64 MB tmpfs holding a built tiny model, then filled to 4 MB of free space (root only: skipped elsewhere)."""
    import os
    import shutil
    import subprocess
    import sys

    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount") or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("a full disk is made with a tmpfs mount, which needs root and mount(8)")
    try:
        cache = mount / "cache"
        made = subprocess.run([sys.executable, "-m", "fastbert_variants.cli", "build", "--model", "random:tinybert-4l",
                               "--variants", "torch-fp32", "--cache-dir", str(cache)], capture_output=True, text=True)
        assert made.returncode == 0, made.stderr[-2000:]
        free = shutil.disk_usage(mount).free
        with (mount / "filler").open("wb") as filler:
            os.posix_fallocate(filler.fileno(), 0, free - (4 << 20))
        yield cache
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.mark.parametrize("variant", ["torchscript", "ort-fp32", "openvino-fp32"])
def test_a_full_disk_is_one_line_for_every_family_that_writes(nearly_full_disk, variant):
    """TorchScript's C++ writer aborted on a full disk (rc 134, a 16-line C++ trace) and left its `.tmp-PID` folder:
    each family that writes files ends in one line, exit 2, and leaves nothing behind (#37 item 14)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "fastbert_variants.cli", "build", "--model", "random:tinybert-4l",
                           "--variants", variant, "--cache-dir", str(nearly_full_disk)], capture_output=True, text=True,
                          timeout=600)
    error = [line for line in done.stderr.splitlines() if line.startswith("fastbert-variants")]
    assert done.returncode == 2 and error == [f"fastbert-variants: error: cannot write the build cache {nearly_full_disk} "
                                               "(No space left on device): free space there, or pass --cache-dir DIR (or "
                                               "set FASTBERT_VARIANTS_CACHE) to a writable directory"], done.stderr[-3000:]
    assert "Traceback" not in done.stderr and not list(nearly_full_disk.rglob("*.tmp-*")), done.stderr[-3000:]
