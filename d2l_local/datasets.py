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
"""
from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

DATA_DIR_ENV = "D2L_DATA_DIR"
_CHECKOUT = Path(__file__).resolve().parent.parent
# In a clone of the course the default is its own data/ folder (git-ignored); elsewhere a user cache.
DEFAULT_DATA_DIR = (_CHECKOUT / "data" if (_CHECKOUT / "notebooks").is_dir()
                    else Path.home() / ".cache" / "d2l_local" / "data")

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


def download_target(root: str | os.PathLike | None) -> Path:
    """The writable data root a download goes to: ``root``, else ``$D2L_DATA_DIR``, else the default."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env).expanduser() if env else DEFAULT_DATA_DIR


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


def _download(spec: DatasetSpec, target: Path) -> dict[str, Path]:
    """Download ``spec`` with torchvision into ``target/<name>/raw``, verified before it lands."""
    import torchvision

    final_dir = target / spec.name / "raw"
    try:
        target.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".download-", dir=target))
    except OSError as err:
        raise PermissionError(
            f"cannot write to {target} ({err.strerror or err}); it is read-only or not a folder"
        ) from err
    try:
        getattr(torchvision.datasets, spec.name)(root=str(staging), train=True, download=True)
        got_dir = staging / spec.name / "raw"
        files = {stem: got_dir / f"{stem}.gz" for stem in ALL_FILES}
        try:
            for images, labels in SPLIT_FILES.values():
                read_split(files[images], files[labels])
        except (CorruptDatasetError, FileNotFoundError) as err:
            raise CorruptDatasetError(
                f"the download of {spec.name} gave a damaged or incomplete file, so nothing was "
                f"written to {final_dir}. Try again later. Details: {err}"
            ) from err
        final_dir.mkdir(parents=True, exist_ok=True)
        for path in files.values():
            os.replace(path, final_dir / path.name)
        return {stem: final_dir / f"{stem}.gz" for stem in ALL_FILES}
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _not_found_message(spec: DatasetSpec, looks: list[_Look], download_problem: str) -> str:
    lines = [f"{spec.name} was not found on this machine and could not be downloaded.", "Looked in:"]
    lines += [look.line() for look in looks]
    lines.append(f"Download: {download_problem}")
    lines.append("Fix it in one of three ways:")
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
    if not download:
        problem = "not attempted (download=False)"
    else:
        try:
            return _download(spec, target)
        except PermissionError as err:
            problem = f"not possible: {err}. Set {DATA_DIR_ENV} to a writable folder."
        except CorruptDatasetError:
            raise
        except Exception as err:  # torchvision raises several kinds when offline
            problem = f"into {target} failed, no network? ({type(err).__name__}: {err})".replace("\n", " ")
    raise DatasetNotFoundError(_not_found_message(spec, looks, problem))


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
