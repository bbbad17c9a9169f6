"""Content-addressed build cache: one folder per (model files, variant, options, library versions).

An entry is built in a temporary folder beside its final place and renamed into place, then
sealed by a manifest of every file's size, mtime and sha256. An entry whose files do not match
its manifest (a killed build, a disk error, an edit) is removed and rebuilt, never used. A file
lock per entry keeps two runs that share the cache from building the same entry at once; the
one that waited finds the entry sealed and uses it. Model folders (the embedded default, the
random presets) live here too, keyed by the content of what they are made from.

A run killed mid-build (SIGINT, SIGKILL) leaves only `<key>.tmp-<pid>`, which no run trusts
and the next build of that key removes. A cache directory that cannot be written (read-only,
full) stops the run with one line naming the directory and `--cache-dir`.

Hashing every byte is the check before an entry is loaded to run (once per process). A cache
that only needs to know whether an entry is there (`fastbert-variants build` of hits) is made
with hash_contents=False and, like make and git's index, trusts a file whose size and mtime are
those sealed; a file with another mtime is hashed, and re-sealed if its bytes are the same (a
copied cache).
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from .errors import UserError
from .files import write_atomically

log = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = Path(os.environ.get("FASTBERT_VARIANTS_CACHE", "~/.cache/fastbert-variants"))
MANIFEST = "fastbert-manifest.json"
# Errors that say the cache's disk, not the build, is at fault.
DISK_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT}
# Libraries whose versions key every entry: the model folders (the embedded default, the random presets) and every
# build start from a transformers model in torch. A variant's own libraries key its entries through its `requires`
# (Variant.definition), and the ONNX export through its own (variants.onnx_export): nothing else is listed here.
VERSIONED_PACKAGES = ("torch", "transformers")


def library_versions(packages: tuple[str, ...] = VERSIONED_PACKAGES) -> dict[str, str]:
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


class BuildCache:
    """Folders of built artifacts under `root/builds/<variant>/<key>`."""

    def __init__(self, root: Path | str = DEFAULT_CACHE_DIR, hash_contents: bool = True):
        self.root = Path(root).expanduser()
        self.hash_contents = hash_contents
        # Entries this process built or checked against their manifest: a derived variant (int8 from the FP32
        # export) asks for its parent again, and hashing 100 MB twice in one run proves nothing new.
        self._checked: set[Path] = set()
        # Entries this process found corrupt or incomplete and rebuilt: the run's output lists them.
        self.rebuilt: list[str] = []
        self._owner_checked = False

    def key(self, **parts) -> str:
        """A hash of what the artifact depends on; library versions are always part of it."""
        payload = json.dumps({**parts, "versions": library_versions()}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:20]

    def entry(self, variant: str, key: str) -> Path:
        return self.root / "builds" / variant / key

    def is_valid(self, folder: Path, hash_contents: bool = True) -> bool:
        """Every file of the manifest is there with its size and sha256 (or, not hashing, its sealed mtime)."""
        manifest_path = folder / MANIFEST
        if not manifest_path.is_file():
            return False
        try:
            manifest = json.loads(manifest_path.read_text())
            resealed = False
            for name, meta in manifest["files"].items():
                stat = (folder / name).stat()
                if stat.st_size != meta["bytes"]:
                    return False
                if not hash_contents and stat.st_mtime_ns == meta.get("mtime_ns"):
                    continue
                if file_sha256(folder / name) != meta["sha256"]:
                    return False
                if stat.st_mtime_ns != meta.get("mtime_ns"):
                    meta["mtime_ns"], resealed = stat.st_mtime_ns, True
            if resealed:
                try:
                    write_atomically(manifest_path, json.dumps(manifest, indent=2, default=str))
                except OSError as exc:  # the hashes matched: the entry is valid, only its faster re-check is lost
                    log.warning("could not re-seal %s (%s); the entry is used, and hashed again next time",
                                manifest_path, exc.strerror)
            return True
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return False

    def manifest(self, folder: Path) -> dict:
        return json.loads((folder / MANIFEST).read_text())

    @contextmanager
    def _lock(self, folder: Path):
        """filelock's lock, portable (fcntl on POSIX, msvcrt on Windows): the plugin must import on every platform."""
        from filelock import FileLock

        folder.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(folder.with_name(folder.name + ".lock")):
            yield

    def get_or_build(self, variant: str, key: str, build: Callable[[Path], dict | None]) -> tuple[Path, dict]:
        """Return (folder, manifest); call build(tmp_folder) -> info only when no valid entry exists."""
        try:
            return self._get_or_build(variant, key, build)
        except OSError as exc:
            if exc.errno not in DISK_ERRNOS:
                raise
            why = exc.strerror
        except Exception as exc:  # a library that writes on its own (safetensors: SafetensorError) and found no space
            if "No space left on device" not in str(exc):
                raise
            why = "No space left on device"
        raise UserError(f"cannot write the build cache {self.root} ({why}): free space there, or pass "
                        "--cache-dir DIR (or set FASTBERT_VARIANTS_CACHE) to a writable directory")

    def check_owner(self) -> None:
        """Refuse a cache root that another user owns or that others may write, as ssh refuses such a key file:
        whoever can write it can swap a built model (and inductor's caches hold pickles) for their own."""
        if self._owner_checked:
            return
        try:
            stat = self.root.stat()
        except FileNotFoundError:
            self._owner_checked = True  # made by this run, with this user's umask
            return
        if not self.root.is_dir():
            raise UserError(f"the build cache {self.root} is a file, not a folder; pass --cache-dir DIR (or set "
                            "FASTBERT_VARIANTS_CACHE) to a folder")
        if stat.st_uid != os.getuid() or stat.st_mode & 0o022:
            whose = f"owned by uid {stat.st_uid}" if stat.st_uid != os.getuid() else "writable by other users"
            raise UserError(f"the build cache {self.root} is {whose} (mode {stat.st_mode & 0o777:o}); pass --cache-dir "
                            f"DIR (or set FASTBERT_VARIANTS_CACHE) to a folder of your own, or `chmod go-w {self.root}`")
        self._owner_checked = True

    def _get_or_build(self, variant, key, build):
        self.check_owner()
        folder = self.entry(variant, key)
        with self._lock(folder):
            if folder.is_symlink():  # the store makes folders only: an entry put there by hand is not trusted
                log.warning("cache entry %s is a symbolic link, not an entry this store made: rebuilding it", folder)
                self.rebuilt.append(f"{variant}/{key}")
                folder.unlink()
                self._checked.discard(folder)
            if folder in self._checked:
                return folder, self.manifest(folder)
            if self.is_valid(folder, self.hash_contents):
                if self.hash_contents:
                    self._checked.add(folder)
                return folder, self.manifest(folder)
            if folder.exists():
                log.warning("cache entry %s is incomplete or corrupt: rebuilding it", folder)
                self.rebuilt.append(f"{variant}/{key}")
                shutil.rmtree(folder)
            for stale in folder.parent.glob(f"{folder.name}.tmp-*"):  # a killed build's; we hold the lock
                shutil.rmtree(stale, ignore_errors=True)
            tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
            tmp.mkdir(parents=True)
            started = time.perf_counter()
            try:
                info = build(tmp) or {}
                files = {
                    str(p.relative_to(tmp)): {"bytes": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns,
                                              "sha256": file_sha256(p)}
                    for p in sorted(tmp.rglob("*")) if p.is_file()
                }
                manifest = {"variant": variant, "key": key, "build_seconds": round(time.perf_counter() - started, 3),
                            "versions": library_versions(), "info": info, "files": files}
                (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
                _fsync_tree(tmp)
                os.replace(tmp, folder)
                self._checked.add(folder)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            return folder, manifest


def _fsync_tree(folder: Path) -> None:
    """Flush every file to disk before the rename that makes the entry visible: a power cut cannot seal zeros."""
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())


def check_safetensors(path: Path, fix: str) -> None:
    """A one-line UserError unless path is a whole safetensors file: its header parses and its tensors end at its end.

    Reads the header only (kilobytes), so it costs nothing on every run; a truncated download or a
    half-copied file is caught here instead of ending the run in a traceback from deep in safetensors.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            header_len = int.from_bytes(handle.read(8), "little")
            if size < 8 or header_len > size - 8:
                raise ValueError(f"{size} bytes, too short for its header")
            header = json.loads(handle.read(header_len))
        end = max((meta["data_offsets"][1] for name, meta in header.items() if name != "__metadata__"), default=0)
        if 8 + header_len + end != size:
            raise ValueError(f"{size} bytes where its header says {8 + header_len + end}")
    except OSError as exc:
        raise UserError(f"cannot read the weights file {path} ({exc.strerror}); {fix}") from None
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise UserError(f"the weights file {path} is truncated or corrupt ({str(exc)[:80]}); {fix}") from None
