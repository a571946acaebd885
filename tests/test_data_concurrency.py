"""Many processes loading into one empty folder at once, and downloads onto a read-only or full disk.

The download is always a stand-in for torchvision (installed as ``sys.modules["torchvision"]``),
so nothing goes to the network; everything else is the finder's real code.
"""
from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
from conftest import make_dataset

from d2l_local import datasets

FILES = datasets.ALL_FILES
DATASETS_PY = Path(datasets.__file__).resolve()

# A child process: loads datasets.py by its path (importing the whole d2l_local package would cost
# seconds per child), installs a slow stand-in for torchvision that writes a tiny valid dataset in
# small chunks, waits at a start line so that the children really race, then loads the train split.
CHILD = r"""
import gzip, importlib.util, json, os, sys, time, types
from pathlib import Path

module_path, folder, sync, mode = sys.argv[1:5]
folder, sync = Path(folder), Path(sync)
spec_ = importlib.util.spec_from_file_location("datasets_under_test", module_path)
datasets = importlib.util.module_from_spec(spec_)
sys.modules[spec_.name] = datasets
spec_.loader.exec_module(datasets)
datasets.DEFAULT_DATA_DIR = sync / "default"  # an empty default folder and no Debian copy
spec = datasets.DatasetSpec("FashionMNIST", (str(sync / "debian"),), "dataset-fashion-mnist")

def idx(magic, shape, body):
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in shape)
    return gzip.compress(header + bytes(body), mtime=0)

class SlowFashionMNIST:
    def __init__(self, root, train, download):
        with open(sync / "downloads.log", "a") as log:
            log.write(f"{os.getpid()}\n")
        raw = Path(root) / "FashionMNIST" / "raw"
        raw.mkdir(parents=True)
        for split, n in (("train", 12), ("t10k", 6)):
            images = idx(0x803, (n, 28, 28), ((i * 7) % 256 for i in range(n * 784)))
            for name, data in ((f"{split}-images-idx3-ubyte.gz", images),
                               (f"{split}-labels-idx1-ubyte.gz", idx(0x801, (n,), (i % 10 for i in range(n))))):
                with open(raw / name, "wb") as f:
                    for start in range(0, len(data), len(data) // 4 + 1):
                        f.write(data[start:start + len(data) // 4 + 1])
                        f.flush()
                        if mode == "hang":
                            (sync / "hanging").touch()
                            time.sleep(600)
                        time.sleep(0.04)

torchvision = types.ModuleType("torchvision")
torchvision.datasets = types.SimpleNamespace(FashionMNIST=SlowFashionMNIST)
sys.modules["torchvision"] = torchvision
(sync / f"ready-{os.getpid()}").touch()
while not (sync / "go").exists():
    time.sleep(0.005)
x, y = datasets.load_split_tensors(spec, train=True, root=folder)
print(json.dumps({"pid": os.getpid(), "n": len(x), "sum": int(x.sum()), "labels": y.tolist()}))
"""


def start_children(folder: Path, sync: Path, n: int, mode: str = "normal", wait_s: float = 60) -> list[subprocess.Popen]:
    """Start ``n`` child processes on ``folder``; return once all stand at the start line (not yet released)."""
    env = {k: v for k, v in os.environ.items() if k != datasets.DATA_DIR_ENV}
    env[datasets.DOWNLOAD_WAIT_ENV] = str(wait_s)
    sync.mkdir(exist_ok=True)
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(DATASETS_PY), str(folder), str(sync), mode],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(n)]
    deadline = time.monotonic() + 60
    while len(list(sync.glob("ready-*"))) < n:
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        assert time.monotonic() < deadline, "the child processes did not start within 60 s"
        time.sleep(0.02)
    return procs


def listing(folder: Path) -> dict[str, int | None]:
    """Every path under ``folder`` with its size (None for folders): what 'as it was' compares."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): (None if p.is_dir() else p.stat().st_size) for p in sorted(folder.rglob("*"))}


def one_clean_copy(folder: Path) -> dict[str, int | None]:
    """What a folder holds after one good download: FashionMNIST/raw/ with the four files, nothing else."""
    return {"FashionMNIST": None, "FashionMNIST/raw": None,
            **{f"FashionMNIST/raw/{f}.gz": (folder / "FashionMNIST" / "raw" / f"{f}.gz").stat().st_size for f in FILES}}


@pytest.fixture
def blank(monkeypatch, tmp_path):
    """A blank machine whose downloads reach the real download code: returns the spec to load."""
    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv(datasets.DOWNLOAD_WAIT_ENV, "30")  # a broken lock fails the test instead of hanging it
    monkeypatch.setattr(datasets, "DEFAULT_DATA_DIR", tmp_path / "default")
    return datasets.DatasetSpec("FashionMNIST", (str(tmp_path / "debian"),), "dataset-fashion-mnist")


def fake_torchvision(monkeypatch, writer) -> list[Path]:
    """Make ``import torchvision`` give a stand-in whose FashionMNIST runs ``writer(raw_dir)``; return its calls."""
    calls: list[Path] = []

    class FakeFashionMNIST:
        def __init__(self, root, train, download):
            calls.append(Path(root))
            writer(Path(root) / "FashionMNIST" / "raw")

    module = types.ModuleType("torchvision")
    module.datasets = types.SimpleNamespace(FashionMNIST=FakeFashionMNIST)
    monkeypatch.setitem(sys.modules, "torchvision", module)
    return calls


def test_processes_racing_on_one_empty_folder_share_one_download(blank, monkeypatch, tmp_path, capsys):
    folder, sync = tmp_path / "class-data", tmp_path / "sync"
    procs = start_children(folder, sync, n=2)

    def slow_download(raw):  # this process races too, as a third student
        with open(sync / "downloads.log", "a") as log:
            log.write(f"{os.getpid()}\n")
        make_dataset(raw)
        time.sleep(0.8)

    fake_torchvision(monkeypatch, slow_download)
    (sync / "go").touch()
    x, y = datasets.load_split_tensors(blank, train=True, root=folder)
    outputs = [capsys.readouterr().out]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outputs.append(out)
    downloaders = (sync / "downloads.log").read_text().split()
    assert len(downloaders) == 1, f"{len(downloaders)} processes downloaded"
    waiters = [out for out in outputs if "is downloading FashionMNIST into" in out]
    assert waiters, "no process waited: the processes did not overlap"
    for out in waiters:
        assert re.search(rf"Another process \(pid {downloaders[0]} on .+\) is downloading FashionMNIST into "
                         rf"{re.escape(str(folder))}; waiting for it", out), out
        assert f"The other process finished; using its copy of FashionMNIST in {folder}." in out
    assert listing(folder) == one_clean_copy(folder)  # no lock file, no staging folder, no half file
    raw = folder / "FashionMNIST" / "raw"
    assert datasets.read_split(raw / f"{FILES[0]}.gz", raw / f"{FILES[1]}.gz")[1].tolist() == y.tolist()
    expected = {"n": 12, "sum": int(x.sum()), "labels": y.tolist()}
    assert [{k: v for k, v in json.loads(out.splitlines()[-1]).items() if k != "pid"} for out in outputs[1:]] == [expected] * 2


def test_a_lock_left_by_a_killed_download_is_no_obstacle(blank, monkeypatch, tmp_path):
    folder = tmp_path / "data"
    (folder / ".download-FashionMNIST-k1ll3d" / "FashionMNIST" / "raw").mkdir(parents=True)
    (folder / ".download-FashionMNIST-k1ll3d" / "FashionMNIST" / "raw" / f"{FILES[0]}.gz").write_bytes(b"\x1f\x8b")
    (folder / ".FashionMNIST.lock").write_text("pid 99999 on elsewhere")  # unlocked: its process is gone
    calls = fake_torchvision(monkeypatch, make_dataset)
    started = time.monotonic()
    datasets.find_dataset(blank, root=folder)
    assert time.monotonic() - started < 2 and len(calls) == 1
    assert listing(folder) == one_clean_copy(folder)


def test_a_waiting_process_gives_up_after_the_limit_and_says_what_it_waited_for(blank, monkeypatch, tmp_path, capsys):
    folder = tmp_path / "data"
    folder.mkdir()
    calls = fake_torchvision(monkeypatch, make_dataset)
    monkeypatch.setenv(datasets.DOWNLOAD_WAIT_ENV, "0.3")
    lock = folder / ".FashionMNIST.lock"
    expected = (rf"Waited 0.3 s for another process \(pid {os.getpid()} on .+\) to finish downloading FashionMNIST "
                rf"into {re.escape(str(folder))}; it still holds the lock {re.escape(str(lock))}.*wait longer with "
                rf"{datasets.DOWNLOAD_WAIT_ENV}=<seconds>")
    # the lock is held through another open file, as another process would hold it
    with datasets._download_lock(lock, "FashionMNIST"), pytest.raises(datasets.DownloadWaitError, match=expected):
        datasets.find_dataset(blank, root=folder)
    assert "is downloading FashionMNIST into" in capsys.readouterr().out
    assert calls == [] and listing(folder) == {}


def test_wait_limit_must_be_a_number(monkeypatch):
    monkeypatch.setenv(datasets.DOWNLOAD_WAIT_ENV, "ten minutes")
    with pytest.raises(ValueError, match=f"{datasets.DOWNLOAD_WAIT_ENV}='ten minutes' is not a number of seconds"):
        datasets.download_wait_s()
    monkeypatch.delenv(datasets.DOWNLOAD_WAIT_ENV)
    assert datasets.download_wait_s() == 600


@pytest.mark.slow
def test_a_killed_downloader_makes_others_wait_then_frees_the_folder(blank, monkeypatch, tmp_path):
    folder = tmp_path / "data"
    sync = tmp_path / "sync"
    (child,) = start_children(folder, sync, n=1, mode="hang")
    (sync / "go").touch()
    deadline = time.monotonic() + 30
    while not (sync / "hanging").exists():
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.02)
    monkeypatch.setenv(datasets.DOWNLOAD_WAIT_ENV, "0.3")
    with pytest.raises(datasets.DownloadWaitError, match=rf"another process \(pid {child.pid} on .+\) to finish"):
        datasets.find_dataset(blank, root=folder)
    child.kill()  # as a student's kernel killed mid-download: lock file and staging folder stay behind
    child.communicate()
    assert (folder / ".FashionMNIST.lock").exists() and list(folder.glob(".download-FashionMNIST-*"))
    calls = fake_torchvision(monkeypatch, make_dataset)
    datasets.find_dataset(blank, root=folder)
    assert len(calls) == 1 and listing(folder) == one_clean_copy(folder)


@pytest.fixture(params=["chmod 555", "read-only mount"])
def read_only_folder(request, monkeypatch, tmp_path):
    """A folder holding one unrelated file that nobody may write to, as the OS reports it."""
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "notes.txt").write_text("the teacher's notes")
    folder.chmod(0o555)
    code = errno.EROFS if request.param == "read-only mount" else errno.EACCES
    if code == errno.EROFS or os.geteuid() == 0:  # root writes through chmod: refuse as the kernel does for others
        real_open, real_mkdir = os.open, os.mkdir

        def refuse(real):
            def call(path, *args, **kwargs):
                where = Path(os.fsdecode(path)).resolve()
                if where.is_relative_to(folder) and where != folder:
                    raise OSError(code, os.strerror(code), str(path))
                return real(path, *args, **kwargs)
            return call

        monkeypatch.setattr(os, "open", refuse(real_open))
        monkeypatch.setattr(os, "mkdir", refuse(real_mkdir))
    yield folder
    folder.chmod(0o755)


def test_read_only_folder_gives_a_clear_error_and_is_left_as_it_was(blank, monkeypatch, read_only_folder):
    calls = fake_torchvision(monkeypatch, make_dataset)
    before = listing(read_only_folder)
    with pytest.raises(datasets.DatasetNotFoundError,
                       match=rf"cannot write to {re.escape(str(read_only_folder))} \((Permission denied|Read-only "
                             rf"file system)\); it is read-only or not a folder\. Set {datasets.DATA_DIR_ENV} to a "
                             rf"writable folder\.(.|\n)*1\. Make room or choose a writable folder"):
        datasets.find_dataset(blank, root=read_only_folder)
    assert calls == [] and listing(read_only_folder) == before


def disk_fills_up(raw: Path) -> None:
    """A download that has written a few chunks when the disk runs out of room."""
    raw.mkdir(parents=True)
    make_dataset(raw, suffix=".gz")
    with open(raw / f"{FILES[2]}.gz", "wb") as f:
        f.write(b"\x1f\x8b" + bytes(500))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f.name)


def full_disk_message(folder: Path, reason: str) -> str:
    return (rf"not enough free space on the disk holding {re.escape(str(folder))} \({reason}\)\. Free about 90 MB "
            rf"there, or set {datasets.DATA_DIR_ENV} to a folder on a disk with room\.")


def test_disk_full_mid_download_leaves_the_folder_as_it_was(blank, monkeypatch, tmp_path):
    folder = tmp_path / "data"
    (folder / "FashionMNIST").mkdir(parents=True)
    (folder / "FashionMNIST" / "README").write_text("an earlier, unfinished copy")
    before = listing(folder)
    fake_torchvision(monkeypatch, disk_fills_up)
    with pytest.raises(datasets.DatasetNotFoundError, match=full_disk_message(folder, "No space left on device")):
        datasets.find_dataset(blank, root=folder)
    assert listing(folder) == before


def test_disk_full_while_landing_puts_the_old_files_back(blank, monkeypatch, tmp_path):
    folder = tmp_path / "data"
    old = make_dataset(folder / "FashionMNIST" / "raw", n_train=3)
    (old / f"{FILES[3]}.gz").unlink()  # an incomplete older copy: the search goes on to a download
    before = {name: (old / name).read_bytes() for name in os.listdir(old)}
    fake_torchvision(monkeypatch, make_dataset)
    real_replace, moves = os.replace, []

    def replace(src, dst):
        moves.append(dst)
        if len(moves) == 4:  # the second file's move into place
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(datasets.DatasetNotFoundError, match=full_disk_message(folder, "No space left on device")):
        datasets.find_dataset(blank, root=folder)
    assert {name: (old / name).read_bytes() for name in os.listdir(old)} == before
    assert sorted(p.name for p in folder.iterdir()) == ["FashionMNIST"]


def test_too_little_free_space_is_found_before_downloading(blank, monkeypatch, tmp_path):
    folder = tmp_path / "new" / "data"
    calls = fake_torchvision(monkeypatch, make_dataset)
    monkeypatch.setattr(datasets.shutil, "disk_usage", lambda path: types.SimpleNamespace(free=12 * 2**20))
    with pytest.raises(datasets.DatasetNotFoundError,
                       match=full_disk_message(folder, "only 12 MB free, the download needs about 90 MB")):
        datasets.find_dataset(blank, root=folder)
    assert calls == [] and not (tmp_path / "new").exists()  # the folders it made for the download are gone again


def _windows(monkeypatch, locking):
    """Run the lock code down its Windows branch: os.name 'nt' and a stand-in msvcrt."""
    from types import SimpleNamespace

    from d2l_local import datasets as module

    fake_os = SimpleNamespace(**{name: getattr(os, name) for name in dir(os) if not name.startswith("__")})
    fake_os.name = "nt"
    monkeypatch.setattr(module, "os", fake_os)
    monkeypatch.setattr(module, "msvcrt", SimpleNamespace(LK_NBLCK=2, LK_UNLCK=0, locking=locking), raising=False)
    return module


def test_on_windows_one_byte_is_locked_then_unlocked_from_the_start_before_the_file_goes(monkeypatch, tmp_path):
    calls = []
    module = _windows(monkeypatch, lambda fd, mode, size: calls.append((fd, mode, size, os.lseek(fd, 0, os.SEEK_CUR))))
    path = tmp_path / ".FashionMNIST.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    assert module._try_lock(fd) is True
    os.write(fd, b"pid 1 on host")  # the holder writes its name, which moves the file position
    module._release(fd, path)
    assert calls == [(fd, 2, 1, 0), (fd, 0, 1, 0)]  # the unlocked byte is the locked one
    assert not path.exists()
    with pytest.raises(OSError):
        os.fstat(fd)  # closed


@pytest.mark.parametrize("code, locked", [(errno.EACCES, False), (errno.EDEADLK, False), (errno.ENOSPC, None)])
def test_on_windows_a_held_lock_is_busy_and_other_errors_are_raised(monkeypatch, tmp_path, code, locked):
    def locking(fd, mode, size):
        raise OSError(code, os.strerror(code))

    module = _windows(monkeypatch, locking)
    fd = os.open(tmp_path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if locked is None:
            with pytest.raises(OSError, match=os.strerror(code)):
                module._try_lock(fd)
        else:
            assert module._try_lock(fd) is locked
    finally:
        os.close(fd)


def test_a_lock_file_whose_folders_vanished_is_created_with_them(tmp_path):
    from d2l_local import datasets as module

    path = tmp_path / "gone" / "FashionMNIST" / ".FashionMNIST.lock"
    fd = module._open_lock(path)
    try:
        assert path.exists() and os.fstat(fd).st_ino == path.stat().st_ino
    finally:
        os.close(fd)


@pytest.mark.parametrize("busy_tries, said", [(0, False), (1, False), (2, True), (3, True)])
def test_the_wait_is_announced_from_the_second_busy_try_and_reported_as_such(monkeypatch, tmp_path, capsys,
                                                                            busy_tries, said):
    tries = iter([False] * busy_tries + [True])
    monkeypatch.setattr(datasets, "_try_lock", lambda fd: next(tries))
    monkeypatch.setattr(datasets.time, "sleep", lambda s: None)
    fd, waited = datasets._acquire(tmp_path / ".FashionMNIST.lock", "FashionMNIST")
    os.close(fd)
    printed = capsys.readouterr().out
    assert waited is said and printed.count("\n") == int(said)  # one line, once, exactly when it says it waited


def test_a_lock_folder_recreated_by_another_process_meanwhile_is_used_as_it_is(tmp_path, monkeypatch):
    """The open fails because the folder is gone; before this process makes it again, another one already has."""
    path = tmp_path / "FashionMNIST" / ".FashionMNIST.lock"
    path.parent.mkdir()
    real_open, calls = os.open, []

    def open_after_a_race(file, flags, mode=0o777):
        calls.append(file)
        if len(calls) == 1:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(file))
        return real_open(file, flags, mode)

    monkeypatch.setattr(datasets.os, "open", open_after_a_race)
    fd = datasets._open_lock(path)
    os.close(fd)
    assert calls == [path, path] and path.is_file()
