"""`heads export -o` / `heads schema -o` over what a path can be (catalogue.files.write_atomic):
a symlink (its target is written, the link kept), a regular file (replaced atomically, its mode kept),
a FIFO and a character device (written in place, never replaced by a regular file)."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalogue.cli import app
from catalogue.files import write_atomic
from tests.conftest import WriteData

runner = CliRunner()


@pytest.fixture
def data(write_data: WriteData, cache: Path) -> Path:
    return write_data()


def export(data: Path, out: Path) -> str:
    result = runner.invoke(app, ["--data", str(data), "export", "--format", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return result.output


def test_symlink_target_is_written_and_the_link_kept(data: Path, tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    export(data, link)
    assert link.is_symlink() and link.resolve() == target
    assert json.loads(target.read_text(encoding="utf-8"))["heads"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


@pytest.mark.parametrize("mode", [0o644, 0o664, 0o600])
def test_existing_file_keeps_its_mode(data: Path, tmp_path: Path, mode: int) -> None:
    out = tmp_path / "schema.json"
    out.write_text("old")
    out.chmod(mode)
    result = runner.invoke(app, ["--data", str(data), "schema", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8"))["title"]
    assert stat.S_IMODE(out.stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_new_file_gets_the_umask_mode(data: Path, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        out = tmp_path / "new.json"
        export(data, out)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_fifo_is_written_in_place(data: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    export(data, fifo)
    reader.join(timeout=30)
    assert not reader.is_alive()
    assert stat.S_ISFIFO(fifo.stat().st_mode), "the FIFO was replaced by a regular file"
    assert json.loads(received[0].decode("utf-8"))["heads"]


def test_character_device_is_written_in_place() -> None:
    """/dev/null stays a device (a rename over it, as root, would make it a regular file)."""
    null = Path("/dev/null")
    if not null.exists() or not stat.S_ISCHR(null.stat().st_mode):
        pytest.skip("no /dev/null character device on this system")
    assert write_atomic(null, "text\n") == null
    assert stat.S_ISCHR(null.stat().st_mode)
    result = runner.invoke(app, ["schema", "-o", str(null)])
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(null.stat().st_mode)


def test_failed_write_leaves_the_target_unchanged(tmp_path: Path) -> None:
    out = tmp_path / "missing-folder" / "x.json"
    with pytest.raises(OSError):
        write_atomic(out, "text")
    assert not out.parent.exists()


def _dead_pid() -> int:
    import subprocess
    import sys

    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    return done.pid


def test_temporary_file_is_named_after_its_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = os.replace

    def spy(src: str, dst: object) -> None:
        seen.append(Path(src).name)
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", spy)
    write_atomic(tmp_path / "x.yaml", "a: 1\n")
    assert seen and seen[0].startswith(f".x.yaml.{os.getpid()}-") and seen[0].endswith(".tmp")


@pytest.mark.parametrize("command", [["validate"], ["add-evidence", "induction-head"]])
def test_temporary_files_of_killed_writers_are_removed(data: Path, command: list[str]) -> None:
    """A writer killed between writing and renaming leaves `.<name>.<pid>-*.tmp`; the next run removes it
    when that process is gone, and keeps the file of a live one."""
    dead = data / "heads" / f".induction-head.yaml.{_dead_pid()}-k1ll3d.tmp"
    dead_top = data / f".models.yaml.{_dead_pid()}-k1ll3d.tmp"
    live = data / "heads" / f".induction-head.yaml.{os.getpid()}-w0rk1ng.tmp"
    for p in (dead, dead_top, live):
        p.write_text("half-written")
    args = ["--data", str(data), *command]
    if command[0] == "add-evidence":
        args += ["--cite", "olsson2022incontext", "--method", "scoring", "--source", "Table 3", "--source-kind", "body"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert not dead.exists() and not dead_top.exists()
    assert live.exists()


def test_data_folder_temporary_files_are_git_ignored(tmp_path: Path) -> None:
    import shutil
    import subprocess

    from tests.helpers import ROOT

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    names = ["data/heads/.induction-head.yaml.123-abc.tmp", "data/.models.yaml.123-abc.tmp", "data/heads/.edit.lock"]
    done = subprocess.run(["git", "check-ignore", *names], cwd=ROOT, capture_output=True, text=True)
    assert done.stdout.split() == names, done.stdout + done.stderr
