"""Deployment targets: where a package is installed and how commands run there.

``emulator``: a folder under the workflow's artifacts plays the board's filesystem, and commands
run as subprocesses of this Python. ``ssh://user@host[:port]/dir``: a PYNQ board or any Linux
host, over paramiko (ssh.py). Both offer the same operations (run a command, upload, download), so
the deploy and validate stages do exactly the same things on either; every operation on the
install folder is remote_ops.py run by the target's Python.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from grace_flow.errors import FlowError

REMOTE_OPS = (Path(__file__).with_name("remote_ops.py")).read_bytes()
_URL = re.compile(r"^ssh://(?P<user>[^@/:]+)@(?P<host>[^@/:]+)(?::(?P<port>\d+))?(?P<path>/.*)$")


class TargetError(FlowError):
    """The target cannot be reached or refused an operation; one line naming it and what to do."""


class CommandFailed(TargetError):
    """A command on the target exited non-zero; ``reason`` is its one-line error."""

    def __init__(self, description: str, reason: str):
        super().__init__(f"{description}: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class SshUrl:
    """The parts of ``ssh://user@host[:port]/path``."""

    user: str
    host: str
    port: int
    path: str

    def __str__(self) -> str:
        return f"ssh://{self.user}@{self.host}:{self.port}{self.path}"


def parse_target(text: str) -> SshUrl | None:
    """The SSH URL of ``deploy.target`` (None for ``emulator``)."""
    if text == "emulator":
        return None
    match = _URL.match(text)
    if match is None or not 1 <= int(match["port"] or 22) <= 65535:
        raise TargetError(f"deploy.target {text!r}: use emulator or "
                          "ssh://user@host[:port]/absolute/folder")
    return SshUrl(match["user"], match["host"], int(match["port"] or 22),
                  match["path"].rstrip("/") or "/")


class Target:
    """What the stages use of a target: ``run``, ``put``, ``get`` (paths relative to ``root``)."""

    description: str  # for messages: the URL, or "emulator (<folder>)"
    root: str  # the install folder on the target
    python: str  # the target's interpreter
    backend = "auto"  # how its runtime runs packages: pynq where there is a bitstream and pynq

    def run(self, argv: list[str], *, stdin: bytes = b"",
            on_line: Callable[[str], None] | None = None) -> str:
        """Run ``argv`` there; its stdout. Each stderr line goes to ``on_line``; a non-zero exit
        is CommandFailed with the command's ``error:`` line (or its last stderr line)."""
        raise NotImplementedError

    def put(self, local: Path, relative: str, progress: Callable[[int], None]) -> None:
        """Upload ``local`` to root/``relative`` (parent folders created); ``progress(bytes)``."""
        raise NotImplementedError

    def get(self, relative: str, local: Path) -> None:
        """Download root/``relative`` to ``local``."""
        raise NotImplementedError

    @property
    def connected(self) -> bool:
        """Whether the target can still be talked to (a lost SSH connection cannot)."""
        return True

    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> "Target":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def op(self, name: str, *args: str) -> dict:
        """One remote_ops.py operation on the install folder: its JSON answer."""
        return json.loads(self.run([self.python, "-", name, self.root, *args], stdin=REMOTE_OPS))

    def runtime(self, folder: str, command: str, *args: str,
                on_line: Callable[[str], None] | None = None) -> dict:
        """board.py ``command`` of the package in root/``folder``: its JSON answer.

        ``-I`` keeps the target's environment and user site out, ``-B`` the package folder free
        of bytecode (it must keep matching its manifest).
        """
        entry = f"{self.root}/{folder}/board.py"
        return json.loads(self.run([self.python, "-I", "-B", entry, command, "--backend",
                                    self.backend, *args], on_line=on_line))


def show_note(target: Target, line: str) -> None:
    """Pass a runtime's ``note: ...`` stderr line on to the person running the flow."""
    if line.startswith("note: "):
        from grace_flow.progress import say

        say(f"{target.description}: {line[len('note: '):]}")


def failure_reason(lines: list[str]) -> str:
    """The one line that explains a failed command: its ``error:`` line, else its last line."""
    errors = [line[len("error: "):] for line in lines if line.startswith("error: ")]
    useful = [line for line in lines if line.strip() and not line.startswith("progress ")]
    return (errors or useful or ["exited without a message"])[-1]


class LocalTarget(Target):
    """The emulated board: ``folder`` is its filesystem; this Python runs its commands, and its
    runtime runs every package on the emulated engines (a bitstream is not loaded here)."""

    backend = "emulated"

    def __init__(self, folder: Path):
        self.folder = Path(folder).resolve()
        self.root = str(self.folder)
        self.description = f"emulator ({folder})"
        self.python = sys.executable

    def run(self, argv, *, stdin=b"", on_line=None):
        self.folder.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(argv, cwd=self.folder, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out: list[bytes] = []
        reader = threading.Thread(target=lambda: out.append(process.stdout.read()))
        reader.start()
        process.stdin.write(stdin)
        process.stdin.close()
        lines = []
        for raw in process.stderr:
            lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
            if on_line:
                on_line(lines[-1])
        reader.join()
        if process.wait() != 0:
            raise CommandFailed(self.description, failure_reason(lines))
        return out[0].decode("utf-8")

    def put(self, local, relative, progress):
        target = self.folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(local, "rb") as source, open(target, "wb") as sink:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                sink.write(chunk)
                progress(len(chunk))

    def get(self, relative, local):
        shutil.copyfile(self.folder / relative, local)


def _setting_path(value: str | None, base_dir: Path) -> Path | None:
    return None if value is None else (Path(base_dir) / Path(value).expanduser()).resolve()


def open_target(settings: dict, emulator_dir: Path, base_dir: Path) -> Target:
    """The target of a ``deploy:`` section (paths in it relative to ``base_dir``, the workflow
    file's folder); ``emulator_dir`` is the emulated board's filesystem."""
    url = parse_target(settings["target"])
    if url is None:
        return LocalTarget(emulator_dir)
    from grace_flow.deploy.ssh import SshTarget

    known_hosts = _setting_path(settings["known_hosts"], base_dir)
    return SshTarget(url, identity=_setting_path(settings["identity"], base_dir),
                     known_hosts=known_hosts or Path.home() / ".ssh" / "known_hosts",
                     accept_new_host=settings["accept_new_host"], python=settings["python"])


def on_target(action, settings: dict, emulator_dir: Path, base_dir: Path, stage: str,
              error: type[FlowError]):
    """Run ``action(target)`` on the target of ``settings`` (deploy:); a failure to reach it or
    of a command there becomes one ``error`` line of ``stage``."""
    try:
        with open_target(settings, emulator_dir, base_dir) as target:
            try:
                return action(target)
            except CommandFailed as failed:
                missing = "not found" in failed.reason or "No such file" in failed.reason
                hint = f"; check that deploy.python ({target.python}) runs there" if missing \
                    else ""
                raise error(f"{stage}: {failed}{hint}") from None
    except TargetError as err:
        raise error(f"{stage}: {err}") from None
