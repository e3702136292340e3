"""A real OpenSSH server on 127.0.0.1 for the tests, and a TCP proxy that drops connections.

The server runs /usr/sbin/sshd in the foreground (-D) with its own config on a free port:
generated ed25519 host and client keys in a temporary folder (so StrictModes no), key-only
login, root allowed by key. It is stopped by its PID. The proxy forwards to it and cuts both
directions after a number of bytes from the client: a network drop in the middle of an upload.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def keygen(path: Path) -> Path:
    """A new ed25519 key pair at ``path`` (and ``path``.pub), no passphrase."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "grace_flow test",
                    "-f", str(path)], check=True)
    return path


def known_hosts_line(port: int, public_key: Path) -> str:
    kind, data = public_key.read_text().split()[:2]
    return f"[127.0.0.1]:{port} {kind} {data}\n"


def _wait_listening(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"sshd did not listen on {port}: {log.read_text()}")


class Sshd:
    """One sshd on 127.0.0.1: ``port``, ``client_key`` (authorized) and ``known_hosts``."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.host_key = keygen(folder / "host_ed25519")
        self.client_key = keygen(folder / "client_ed25519")
        (folder / "authorized_keys").write_text(Path(f"{self.client_key}.pub").read_text())
        self.port = free_port()
        self.known_hosts = folder / "known_hosts"
        self.known_hosts.write_text(known_hosts_line(self.port, Path(f"{self.host_key}.pub")))
        config = folder / "sshd_config"
        config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
            f"PidFile {folder / 'sshd.pid'}", f"AuthorizedKeysFile {folder / 'authorized_keys'}",
            "PubkeyAuthentication yes", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
            "StrictModes no", "UsePAM no", "Subsystem sftp internal-sftp", "LogLevel VERBOSE",
            ""]))
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
        self.log = folder / "sshd.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)],
                                            stdout=log, stderr=subprocess.STDOUT)
        _wait_listening(self.port, self.process, self.log)

    def settings(self, root: str, **changes) -> dict:
        """A deploy: section for this server, installing into ``root``."""
        return {"target": f"ssh://root@127.0.0.1:{self.port}{root}",
                "identity": str(self.client_key), "known_hosts": str(self.known_hosts),
                "accept_new_host": False, "python": sys.executable, **changes}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class DroppingProxy:
    """Forwards 127.0.0.1:``port`` to ``upstream``, cutting a connection once ``limit`` bytes
    came from its client."""

    def __init__(self, upstream: int, limit: int):
        self.upstream, self.limit, self.port = upstream, limit, free_port()
        self.dropped = threading.Event()
        self._server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:  # closed
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, counted: bool) -> None:
        sent = 0
        try:
            while data := source.recv(16384):
                if counted and sent + len(data) > self.limit:
                    self.dropped.set()
                    break
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self._server.close()
