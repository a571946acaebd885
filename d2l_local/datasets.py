"""Find, check and read the MNIST-style datasets the course uses, offline first.

Search order for each dataset (first complete copy wins):

1. the ``root`` argument of the loader,
2. the folder named by the environment variable ``D2L_DATA_DIR``,
3. the default data folder: ``data/`` at the top of the course checkout
   (``~/.cache/d2l_local/data`` when the package is installed elsewhere),
4. the files of a Debian package (``dataset-fashion-mnist`` for Fashion-MNIST).

In each folder the four IDX files may sit in torchvision's layout
(``<folder>/FashionMNIST/raw/``) or directly in the folder, gzip-compressed or not.
Only when no folder holds a complete copy does the loader download through
torchvision, into a temporary folder first, and move the files into place once they
have been read back and checked.

Many processes may load into the same empty folder at once (a class opening the chapter
together): one downloads while holding an OS file lock (``<folder>/.<Name>.lock``, released
by the operating system if the process dies, removed when done) and the others wait for it,
up to ``$D2L_DOWNLOAD_WAIT`` seconds (10 minutes by default), then use its copy. A download
that fails, for example on a read-only or full disk, leaves the folder as it was.
"""
from __future__ import annotations

import errno
import gzip
import os
import shutil
import socket
import tempfile
import time
import zlib
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

if os.name == "nt":
    import msvcrt
else:
    import fcntl

DATA_DIR_ENV = "D2L_DATA_DIR"
DOWNLOAD_WAIT_ENV = "D2L_DOWNLOAD_WAIT"
DEFAULT_DOWNLOAD_WAIT_S = 600.0


def default_folder(kind: str) -> Path:
    """The default folder for ``kind`` (``'data'``, or ``'work'`` for saved networks).

    In a copy of the course (a clone or an unpacked student release: ``notebooks/`` beside this
    package) it is the course's own ``data/`` or ``work/`` folder; for an installed package, a user cache.
    """
    course = Path(__file__).resolve().parent.parent
    return course / kind if (course / "notebooks").is_dir() else Path.home() / ".cache" / "d2l_local" / kind


DEFAULT_DATA_DIR = default_folder("data")

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
IMAGE_SIZE = 28
NUM_CLASSES = 10


@dataclass(frozen=True)
class DatasetSpec:
    """What identifies one MNIST-style dataset on disk and in torchvision."""

    name: str  # torchvision's class and folder name
    debian_dirs: tuple[str, ...] = ()
    debian_package: str | None = None
    download_mb: int = 30


FASHION_MNIST = DatasetSpec(
    "FashionMNIST",
    debian_dirs=("/usr/share/datasets/fashion-mnist",),
    debian_package="dataset-fashion-mnist",
)
MNIST = DatasetSpec("MNIST", download_mb=12)

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
ALL_FILES = tuple(f for pair in SPLIT_FILES.values() for f in pair)


class DatasetNotFoundError(FileNotFoundError):
    """No folder holds a complete copy of the dataset and it could not be downloaded."""


class CorruptDatasetError(ValueError):
    """A dataset file exists but is truncated, damaged or not the expected IDX file."""


class DownloadWaitError(TimeoutError):
    """Another process held the download lock for longer than this one may wait."""


class _CannotWrite(OSError):
    """The download folder could not be created; carries the original errno and reason."""


def _existing_file(folder: Path, stem: str) -> Path | None:
    """Return ``folder/stem.gz`` or ``folder/stem``, whichever exists first."""
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _layouts(folder: Path, spec: DatasetSpec) -> list[Path]:
    """The folders under ``folder`` where the four files may sit."""
    return [folder / spec.name / "raw", folder / spec.name, folder]


@dataclass
class _Look:
    """What one searched location held, for the error message."""

    folder: Path
    label: str
    finding: str

    def line(self) -> str:
        return f"  - {self.folder} ({self.label}): {self.finding}"


def _inspect(folder: Path, spec: DatasetSpec) -> tuple[dict[str, Path] | None, str]:
    """Return the four files found under ``folder`` (or None) and a one-line finding."""
    if not folder.is_dir():
        return None, "folder does not exist"
    best_missing: list[str] | None = None
    for layout in _layouts(folder, spec):
        files = {stem: _existing_file(layout, stem) for stem in ALL_FILES}
        missing = [stem for stem, path in files.items() if path is None]
        if not missing:
            return files, "complete"  # type: ignore[return-value]
        if len(missing) < len(ALL_FILES) and (best_missing is None or len(missing) < len(best_missing)):
            best_missing, best_layout = missing, layout
    if best_missing is None:
        return None, f"no {spec.name} files"
    names = ", ".join(f"{m}[.gz]" for m in best_missing)
    return None, f"incomplete copy in {best_layout}: missing {names}"


def candidate_folders(spec: DatasetSpec, root: str | os.PathLike | None) -> list[tuple[Path, str]]:
    """The folders searched for ``spec``, in order, each with a label saying why."""
    places: list[tuple[Path, str]] = []
    if root is not None:
        places.append((Path(root).expanduser(), "root argument"))
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        places.append((Path(env).expanduser(), f"${DATA_DIR_ENV}"))
    places.append((DEFAULT_DATA_DIR, "default data folder"))
    for folder in spec.debian_dirs:
        places.append((Path(folder), f"Debian package {spec.debian_package}"))
    return places


def chosen_folder(given: str | os.PathLike | None, env_var: str, default: Path) -> Path:
    """``given`` if there is one, else the folder that ``$env_var`` names, else ``default`` (``~`` expanded)."""
    chosen = given if given is not None else (os.environ.get(env_var) or default)
    return Path(chosen).expanduser()


def download_target(root: str | os.PathLike | None) -> Path:
    """The writable data root a download goes to: ``root``, else ``$D2L_DATA_DIR``, else the default."""
    return chosen_folder(root, DATA_DIR_ENV, DEFAULT_DATA_DIR)


def _read_idx_bytes(path: Path) -> bytes:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            return f.read()
    except (EOFError, OSError, zlib.error) as err:
        raise CorruptDatasetError(
            f"{path} is damaged or truncated ({err}). Delete it and run again to download "
            f"a fresh copy, or replace it with a good one."
        ) from err


def _parse_idx(path: Path, magic: int) -> torch.Tensor:
    """Parse one IDX file, checking its header against its size."""
    raw = _read_idx_bytes(path)
    kind = "images" if magic == IMAGES_MAGIC else "labels"
    header_len = 16 if magic == IMAGES_MAGIC else 8
    if len(raw) < header_len:
        raise CorruptDatasetError(f"{path} is too short ({len(raw)} bytes) to be an IDX {kind} file.")
    found_magic = int.from_bytes(raw[0:4], "big")
    if found_magic != magic:
        raise CorruptDatasetError(
            f"{path} is not an IDX {kind} file: magic number {found_magic:#010x}, expected {magic:#010x}. "
            f"Replace it with the original file."
        )
    count = int.from_bytes(raw[4:8], "big")
    shape: tuple[int, ...] = (count,)
    if magic == IMAGES_MAGIC:
        rows, cols = int.from_bytes(raw[8:12], "big"), int.from_bytes(raw[12:16], "big")
        if (rows, cols) != (IMAGE_SIZE, IMAGE_SIZE):
            raise CorruptDatasetError(
                f"{path} holds {rows}x{cols} images, expected {IMAGE_SIZE}x{IMAGE_SIZE}. "
                f"Replace it with the original file."
            )
        shape = (count, rows, cols)
    expected = header_len + count * (IMAGE_SIZE * IMAGE_SIZE if magic == IMAGES_MAGIC else 1)
    if len(raw) != expected:
        raise CorruptDatasetError(
            f"{path} has {len(raw)} bytes of data but its header promises {expected} "
            f"({count} {kind}): the file is truncated or damaged. Delete it and run again "
            f"to download a fresh copy."
        )
    if count == 0:  # torch.frombuffer refuses an empty range
        return torch.zeros(shape, dtype=torch.uint8)
    data = torch.frombuffer(bytearray(raw), dtype=torch.uint8, offset=header_len)
    return data.reshape(shape)


@lru_cache(maxsize=8)
def _read_split_cached(images: Path, labels: Path, stamp: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    x = _parse_idx(images, IMAGES_MAGIC)
    y = _parse_idx(labels, LABELS_MAGIC)
    if len(x) != len(y):
        raise CorruptDatasetError(
            f"{images} holds {len(x)} images but {labels} holds {len(y)} labels; the two "
            f"files are from different copies. Replace both with a matching pair."
        )
    if len(y) and int(y.max()) >= NUM_CLASSES:
        raise CorruptDatasetError(f"{labels} has label {int(y.max())}; labels must be 0-{NUM_CLASSES - 1}.")
    return x, y.long()


def read_split(images: Path, labels: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Read an images/labels pair: uint8 ``(N, 28, 28)`` images and int64 ``(N,)`` labels."""
    stamp = tuple((p.stat().st_size, p.stat().st_mtime_ns) for p in (images, labels))
    return _read_split_cached(images, labels, stamp)


def forget_read_splits() -> None:
    """Drop the splits kept in memory, so the next load reads and decodes the files again (as a fresh kernel does)."""
    _read_split_cached.cache_clear()


def download_wait_s() -> float:
    """How long to wait for another process's download: ``$D2L_DOWNLOAD_WAIT`` seconds, else 10 minutes."""
    value = os.environ.get(DOWNLOAD_WAIT_ENV, "").strip()
    try:
        return float(value) if value else DEFAULT_DOWNLOAD_WAIT_S
    except ValueError:
        raise ValueError(f"{DOWNLOAD_WAIT_ENV}={value!r} is not a number of seconds") from None


def _try_lock(fd: int) -> bool:
    """Take the OS lock on ``fd`` without blocking; False when another process holds it."""
    try:
        if os.name == "nt":
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:  # BlockingIOError on POSIX; EACCES (or EDEADLOCK) on Windows
        if isinstance(err, BlockingIOError) or err.errno in (errno.EACCES, errno.EDEADLK):
            return False
        raise
    return True


def _is_current(fd: int, path: Path) -> bool:
    """Whether ``fd`` is still the file at ``path`` (a finishing holder removes it while locked)."""
    try:
        st, mine = os.stat(path), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _open_lock(path: Path) -> int:
    """Open (creating it if needed) the lock file, recreating its folder if it vanished meanwhile."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:  # a failed download in another process removed the empty folder
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


def _holder(path: Path) -> str:
    """Who holds the lock, as its holder wrote it (``pid N on HOST``), or ``""`` if unreadable."""
    with suppress(OSError, UnicodeDecodeError):
        text = path.read_text().strip()
        return f" ({text})" if text else ""
    return ""


def _waiting_message(path: Path, what: str, limit: float) -> str:
    """What a process prints when it starts waiting for another one's download."""
    return (f"Another process{_holder(path)} is downloading {what} into {path.parent}; waiting for it "
            f"to finish (lock file {path.name}; up to {limit:g} s, set {DOWNLOAD_WAIT_ENV} to change)...")


def _wait_error(path: Path, what: str, limit: float) -> DownloadWaitError:
    """The error of a process that waited ``limit`` seconds in vain: who holds the lock and what to do."""
    return DownloadWaitError(
        f"Waited {limit:g} s for another process{_holder(path)} to finish downloading {what} into "
        f"{path.parent}; it still holds the lock {path} (the operating system frees it when that "
        f"process ends, so the process is still running). If its download is progressing, run this "
        f"again later or wait longer with {DOWNLOAD_WAIT_ENV}=<seconds>; if it is stuck, stop it "
        f"(e.g. restart that notebook's kernel); or set {DATA_DIR_ENV} to another folder."
    )


def _acquire(path: Path, what: str) -> tuple[int, bool]:
    """Lock ``path`` for downloading ``what``, waiting for the process holding it; return (fd, said we wait)."""
    limit = download_wait_s()
    deadline = time.monotonic() + limit
    busy = 0
    while True:
        fd = _open_lock(path)
        try:
            if _try_lock(fd) and _is_current(fd, path):
                return fd, busy >= 2
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
        if time.monotonic() >= deadline:
            raise _wait_error(path, what, limit)
        busy += 1
        if busy == 2:  # not at once: by now the holder has written who it is into the lock file
            print(_waiting_message(path, what, limit), flush=True)
        time.sleep(min(0.1, max(deadline - time.monotonic(), 0.0)))


def _release(fd: int, path: Path) -> None:
    """Remove the lock file and let go of the lock, so a finished download leaves no trace."""
    if os.name == "nt":  # Windows cannot remove an open file: unlock first; a waiter that has it open removes it later
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        os.close(fd)
        with suppress(OSError):
            path.unlink()
    else:  # removed while still locked: a waiter that then locks the old file sees it is gone (_is_current)
        with suppress(OSError):
            path.unlink()
        os.close(fd)


@contextmanager
def _download_lock(path: Path, what: str):
    """Hold the download lock ``path`` (an OS lock: freed if this process dies); yield whether we waited."""
    fd, waited = _acquire(path, what)
    try:
        with suppress(OSError):  # for the messages of processes that wait; a stale file may hold older text
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode())
        yield waited
    finally:
        _release(fd, path)


def _make_dirs(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the ones created, innermost first."""
    missing = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders this download created (innermost first), stopping at one that is not empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _check_room(target: Path, spec: DatasetSpec) -> None:
    """Refuse to start when the disk holding ``target`` clearly lacks room for the download and its unpacking."""
    need_mb = 3 * spec.download_mb
    try:
        free_mb = shutil.disk_usage(target).free // 2**20
    except OSError:  # a file system that cannot say: let the download find out
        return
    if free_mb < need_mb:
        raise OSError(errno.ENOSPC, f"only {free_mb} MB free, the download needs about {need_mb} MB")


def _remove_stale_staging(target: Path, spec: DatasetSpec) -> None:
    """Remove staging folders left by killed downloads; safe because we hold the lock."""
    for stale in target.glob(f".download-{spec.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _check_download(spec: DatasetSpec, got_dir: Path, final_dir: Path) -> list[Path]:
    """Read back the four downloaded files; return them, or raise if any is damaged or missing."""
    files = {stem: got_dir / f"{stem}.gz" for stem in ALL_FILES}
    try:
        for images, labels in SPLIT_FILES.values():
            read_split(files[images], files[labels])
    except (CorruptDatasetError, FileNotFoundError) as err:
        raise CorruptDatasetError(
            f"the download of {spec.name} gave a damaged or incomplete file, so nothing was "
            f"written to {final_dir}. Try again later. Details: {err}"
        ) from err
    return list(files.values())


def _land(files: list[Path], final_dir: Path, staging: Path) -> None:
    """Move the checked files into ``final_dir``; on any error put back what was there before."""
    made = _make_dirs(final_dir)
    replaced = staging / "replaced"
    replaced.mkdir()
    moved: list[Path] = []
    try:
        for path in files:
            if (final_dir / path.name).exists():
                os.replace(final_dir / path.name, replaced / path.name)
            os.replace(path, final_dir / path.name)
            moved.append(final_dir / path.name)
    except BaseException:
        for path in moved:
            path.unlink(missing_ok=True)
        for old in replaced.iterdir():
            os.replace(old, final_dir / old.name)
        _remove_empty(made)
        raise


def _download(spec: DatasetSpec, target: Path) -> dict[str, Path]:
    """Download ``spec`` with torchvision into ``target/<name>/raw``, verified before it lands."""
    import torchvision

    final_dir = target / spec.name / "raw"
    _remove_stale_staging(target, spec)
    _check_room(target, spec)
    staging = Path(tempfile.mkdtemp(prefix=f".download-{spec.name}-", dir=target))
    try:
        getattr(torchvision.datasets, spec.name)(root=str(staging), train=True, download=True)
        _land(_check_download(spec, staging / spec.name / "raw", final_dir), final_dir, staging)
        return {stem: final_dir / f"{stem}.gz" for stem in ALL_FILES}
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _download_once(spec: DatasetSpec, target: Path) -> dict[str, Path]:
    """Download ``spec`` into ``target`` under the lock, unless the process we waited for already did."""
    try:
        made = _make_dirs(target)
    except OSError as err:
        raise _CannotWrite(err.errno, err.strerror or str(err)) from err
    try:
        with _download_lock(target / f".{spec.name}.lock", spec.name) as waited:
            files, _ = _inspect(target, spec)
            if files is None:
                if waited:
                    print(f"The other process left no complete {spec.name}; downloading it here.", flush=True)
                return _download(spec, target)
            if waited:
                print(f"The other process finished; using its copy of {spec.name} in {target}.", flush=True)
            return files
    except BaseException:
        _remove_empty(made)
        raise


def _write_problem(err: OSError, target: Path, spec: DatasetSpec) -> str | None:
    """Say what to do when ``err`` means ``target`` is full or not writable; None for other errors."""
    reason = err.strerror or str(err)
    if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return (f"not possible: not enough free space on the disk holding {target} ({reason}). "
                f"Free about {3 * spec.download_mb} MB there, or set {DATA_DIR_ENV} to a folder on a disk with room.")
    if isinstance(err, _CannotWrite) or err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"not possible: cannot write to {target} ({reason}); it is read-only or not a folder. "
                f"Set {DATA_DIR_ENV} to a writable folder.")
    return None


def _not_found_message(spec: DatasetSpec, looks: list[_Look], download_problem: str,
                       disk_problem: bool = False) -> str:
    lines = [f"{spec.name} was not found on this machine and could not be downloaded.", "Looked in:"]
    lines += [look.line() for look in looks]
    lines.append(f"Download: {download_problem}")
    lines.append("Fix it in one of three ways:")
    if disk_problem:
        lines.append(f"  1. Make room or choose a writable folder as said above and run this again; "
                     f"the files (about {spec.download_mb} MB) download once.")
    else:
        lines.append(f"  1. Connect to the internet and run this again; the files (about {spec.download_mb} MB) download once.")
    lines.append(
        f"  2. Set {DATA_DIR_ENV} to a folder that holds {spec.name}/raw/ with the four files "
        f"({', '.join(f + '.gz' for f in ALL_FILES)}), e.g. export {DATA_DIR_ENV}=/path/to/data"
    )
    if spec.debian_package:
        lines.append(f"  3. On Debian or Ubuntu: sudo apt-get install {spec.debian_package}")
    else:
        lines.append(f"  3. Copy the four files into {DEFAULT_DATA_DIR / spec.name / 'raw'} from a machine that has them.")
    return "\n".join(lines)


def find_dataset(spec: DatasetSpec, root: str | os.PathLike | None = None, download: bool = True) -> dict[str, Path]:
    """Return paths of the four IDX files of ``spec``, searching offline first, then downloading."""
    looks = []
    for folder, label in candidate_folders(spec, root):
        files, finding = _inspect(folder, spec)
        if files is not None:
            return files
        looks.append(_Look(folder, label, finding))
    target = download_target(root)
    disk_problem = None
    if not download:
        problem = "not attempted (download=False)"
    else:
        try:
            return _download_once(spec, target)
        except (CorruptDatasetError, DownloadWaitError):
            raise
        except Exception as err:  # torchvision raises several kinds when offline
            disk_problem = _write_problem(err, target, spec) if isinstance(err, OSError) else None
            problem = disk_problem or f"into {target} failed, no network? ({type(err).__name__}: {err})".replace("\n", " ")
    raise DatasetNotFoundError(_not_found_message(spec, looks, problem, disk_problem is not None))


def load_split_tensors(spec: DatasetSpec, train: bool, root: str | os.PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Find ``spec`` and return one split as uint8 images ``(N, 28, 28)`` and int64 labels."""
    files = find_dataset(spec, root)
    images, labels = SPLIT_FILES["train" if train else "test"]
    return read_split(files[images], files[labels])


FASHION_MNIST_LABELS = ("t-shirt", "trouser", "pullover", "dress", "coat",
                        "sandal", "shirt", "sneaker", "bag", "ankle boot")


def get_fashion_mnist_labels(labels) -> list[str]:
    """Turn Fashion-MNIST class indices (ints or a tensor) into their text labels."""
    return [FASHION_MNIST_LABELS[int(i)] for i in labels]
