"""A target over SSH (paramiko): host key checked, key-only login, commands and SFTP.

The host key must be in ``known_hosts`` (default the user's): a host missing from it is refused
unless ``accept_new_host`` (then its key is appended there), and a changed key is always refused.
Every way of failing to connect becomes one line naming the target and what to do.
"""

from __future__ import annotations

import shlex
import socket
from pathlib import Path, PurePosixPath

import paramiko

from grace_flow.deploy.targets import CommandFailed, SshUrl, Target, TargetError, failure_reason

TIMEOUT_S = 15.0


class _UnknownHost(Exception):
    def __init__(self, key: paramiko.PKey):
        super().__init__("unknown host")
        self.key = key


class _HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Refuse a host missing from known_hosts, or add it there when that is allowed."""

    def __init__(self, accept_new: bool, known_hosts: Path):
        self.accept_new, self.known_hosts = accept_new, known_hosts

    def missing_host_key(self, client, hostname, key):
        if not self.accept_new:
            raise _UnknownHost(key)
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
        with open(self.known_hosts, "a", encoding="utf-8") as handle:
            handle.write(paramiko.hostkeys.HostKeyEntry([hostname], key).to_line())
        self.known_hosts.chmod(0o600)


def _key_text(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.fingerprint}"


class SshTarget(Target):
    """A board (or any Linux host) at ``url``, logged into with ``identity`` (or the agent)."""

    def __init__(self, url: SshUrl, *, identity: Path | None, known_hosts: Path,
                 accept_new_host: bool, python: str):
        self.url, self.description, self.root, self.python = url, str(url), url.path, python
        self._sftp = None
        self._made: set[str] = set()
        client = paramiko.SSHClient()
        if known_hosts.is_file():
            client.load_host_keys(str(known_hosts))
        client.set_missing_host_key_policy(_HostKeyPolicy(accept_new_host, known_hosts))
        try:
            client.connect(url.host, url.port, username=url.user,
                           key_filename=str(identity) if identity else None,
                           look_for_keys=identity is None, allow_agent=identity is None,
                           timeout=TIMEOUT_S, banner_timeout=TIMEOUT_S, auth_timeout=TIMEOUT_S)
        except BaseException as err:
            client.close()
            raise self._connect_error(err, identity, known_hosts) from None
        self._client = client
        self.host_key = _key_text(client.get_transport().get_remote_server_key())

    def _connect_error(self, err: BaseException, identity, known_hosts: Path) -> BaseException:
        url, where = self.url, f"{self.url.host}" if self.url.port == 22 else \
            f"[{self.url.host}]:{self.url.port}"
        if isinstance(err, paramiko.ssh_exception.NoValidConnectionsError):
            return TargetError(f"{url}: connection refused on port {url.port}: check that the "
                               "board is on and its SSH server runs, or fix deploy.target")
        if isinstance(err, _UnknownHost):
            scan = f"ssh-keyscan -p {url.port} {url.host} >> {known_hosts}"
            return TargetError(f"{url}: host {where} is not in {known_hosts} (its key: "
                               f"{_key_text(err.key)}); check that fingerprint on the board, "
                               f"then run `{scan}`, or set deploy.accept_new_host: true")
        if isinstance(err, paramiko.BadHostKeyException):
            return TargetError(f"{url}: the host key of {where} changed (now "
                               f"{_key_text(err.key)}, {known_hosts} has "
                               f"{_key_text(err.expected_key)}): refused, this may be an attack; "
                               "if the board was reinstalled, remove the old key with "
                               f"`ssh-keygen -R '{where}' -f {known_hosts}`")
        if isinstance(err, paramiko.PasswordRequiredException):
            return TargetError(f"{url}: the key {identity} is encrypted: load it into ssh-agent "
                               "and unset deploy.identity")
        if isinstance(err, paramiko.AuthenticationException):
            key = f"the key {identity}" if identity else "the agent's and ~/.ssh's keys"
            return TargetError(f"{url}: authentication as {url.user} failed with {key}: add the "
                               f"public key to ~{url.user}/.ssh/authorized_keys on the target, "
                               "or set deploy.identity")
        if isinstance(err, FileNotFoundError):
            return TargetError(f"{url}: deploy.identity {identity} does not exist")
        if isinstance(err, socket.gaierror):
            return TargetError(f"{url}: unknown host {url.host}: fix deploy.target")
        if isinstance(err, (TimeoutError, socket.timeout)):
            return TargetError(f"{url}: no answer within {TIMEOUT_S:g} s: check the address and "
                               "that the board is on")
        if isinstance(err, (OSError, paramiko.SSHException, EOFError)):
            return TargetError(f"{url}: cannot connect ({type(err).__name__}: {err})")
        return err

    @property
    def connected(self) -> bool:
        transport = self._client.get_transport()
        return transport is not None and transport.is_active()

    def run(self, argv, *, stdin=b"", on_line=None):
        try:
            channel = self._client.get_transport().open_session()
            channel.exec_command(shlex.join(argv))
            channel.sendall(stdin)
            channel.shutdown_write()
            lines = []
            for raw in channel.makefile_stderr("rb"):
                lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                if on_line:
                    on_line(lines[-1])
            out = channel.makefile("rb").read().decode("utf-8")
            status = channel.recv_exit_status()
        except (OSError, EOFError, paramiko.SSHException) as err:
            raise TargetError(f"{self.description}: connection lost ({err or type(err).__name__})"
                              ) from None
        if status == -1:
            raise TargetError(f"{self.description}: connection lost while running "
                              f"{PurePosixPath(argv[0]).name}")
        if status != 0:
            raise CommandFailed(self.description, failure_reason(lines))
        return out

    def _remote(self, relative: str) -> str:
        return str(PurePosixPath(self.root) / relative)

    def _sftp_client(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            self._sftp = self._client.open_sftp()
        return self._sftp

    def _make_parents(self, remote: str) -> None:
        sftp = self._sftp_client()
        for parent in reversed(PurePosixPath(remote).parents):
            folder = str(parent)
            if folder in self._made:
                continue
            try:
                sftp.stat(folder)
            except FileNotFoundError:
                sftp.mkdir(folder)
            self._made.add(folder)

    def put(self, local, relative, progress):
        remote = self._remote(relative)
        self._make_parents(remote)
        sent = [0]

        def callback(done: int, total: int) -> None:
            progress(done - sent[0])
            sent[0] = done

        try:
            self._sftp_client().put(str(local), remote, callback=callback)
        except (paramiko.SSHException, EOFError) as err:  # the SFTP session broke
            raise TargetError(f"{self.description}: connection lost ({err})") from None

    def get(self, relative, local):
        self._sftp_client().get(self._remote(relative), str(local))

    def close(self):
        if self._sftp is not None:
            self._sftp.close()
        self._client.close()
