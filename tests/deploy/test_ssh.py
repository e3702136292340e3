"""Deploying over real SSH (OpenSSH's sshd on 127.0.0.1): success, rollback, and every fault.

Each fault test first installs an old package over SSH, then tries a new one with the fault; the
failure must be one line naming the target and what to do, and afterwards the old package must
still be current, complete, and decode every test frame bit-exact on the target.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deploy_support import assert_current, assert_validates, read_receipt
from sshd import DroppingProxy, free_port, keygen, known_hosts_line

from grace_flow.deploy.stage import DeployError, deploy_overlay, rollback
from grace_flow.deploy.targets import open_target
from grace_flow.runtime.package import package_hash


@pytest.fixture
def site(sshd, tiny_board, tmp_path):
    """An old package installed over SSH into a fresh folder; a new one ready to deploy."""
    old = tiny_board.repackage(tmp_path / "old", "1" * 64)
    new = tiny_board.repackage(tmp_path / "new", "2" * 64)
    root = tmp_path / "board"
    settings = sshd.settings(str(root))
    deploy_overlay(old, tmp_path / "receipt.json", settings=settings,
                   emulator_dir=tmp_path / "unused", base_dir=tmp_path)
    return {"old": old, "new": new, "root": root, "settings": settings, "tmp": tmp_path}


def _deploy(site, **changes):
    return deploy_overlay(site["new"], site["tmp"] / "receipt.json",
                          settings={**site["settings"], **changes},
                          emulator_dir=site["tmp"] / "unused", base_dir=site["tmp"])


def _fails(site, **changes) -> str:
    with pytest.raises(DeployError) as err:
        _deploy(site, **changes)
    return str(err.value)


def _old_still_runs(site, tiny_board) -> None:
    with open_target(site["settings"], site["tmp"], site["tmp"]) as target:
        assert_current(target, site["old"])
        assert_validates(target, tiny_board, site["tmp"] / "check")


def test_deploy_over_ssh_validates_bit_exact_and_rolls_back(site, sshd, tiny_board):
    receipt = _deploy(site)
    with open_target(site["settings"], site["tmp"], site["tmp"]) as target:
        assert_current(target, site["new"], previous=site["old"])
        facts = assert_validates(target, tiny_board, site["tmp"] / "frames")
    assert facts["backend"] == "emulated" and facts["package"] == package_hash(site["new"])
    url = f"ssh://root@127.0.0.1:{sshd.port}{site['root']}"
    assert receipt["target"] == url and receipt["action"] == "deployed"
    fingerprint = subprocess.run(["ssh-keygen", "-l", "-f", f"{sshd.host_key}.pub"],
                                 capture_output=True, text=True).stdout.split()[1]
    assert receipt["host_key"] == f"ssh-ed25519 {fingerprint}"
    text = (site["tmp"] / "receipt.json").read_text()
    secret = Path(sshd.client_key).read_text().splitlines()[1]
    assert secret not in text and "PRIVATE" not in text and str(sshd.client_key) not in text

    back = rollback(site["tmp"] / "receipt.json", settings=site["settings"],
                    emulator_dir=site["tmp"], base_dir=site["tmp"])
    assert back["action"] == "rolled back" and back["package"] == package_hash(site["old"])
    with open_target(site["settings"], site["tmp"], site["tmp"]) as target:
        assert_current(target, site["old"], previous=site["new"])
        assert_validates(target, tiny_board, site["tmp"] / "frames")


def test_connection_refused(site, tiny_board):
    port = free_port()
    message = _fails(site, target=f"ssh://root@127.0.0.1:{port}{site['root']}")
    assert message == (f"deploy: ssh://root@127.0.0.1:{port}{site['root']}: connection refused "
                       f"on port {port}: check that the board is on and its SSH server runs, "
                       "or fix deploy.target")
    _old_still_runs(site, tiny_board)


def test_authentication_failure(site, tiny_board, tmp_path):
    stranger = keygen(tmp_path / "stranger")
    message = _fails(site, identity=str(stranger))
    assert message == (f"deploy: {site['settings']['target']}: authentication as root failed "
                       f"with the key {stranger}: add the public key to ~root/.ssh/"
                       "authorized_keys on the target, or set deploy.identity")
    _old_still_runs(site, tiny_board)


def test_unknown_host_key_is_refused_unless_accepted(site, sshd, tiny_board, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    message = _fails(site, known_hosts=str(empty))
    assert re.fullmatch(
        rf"deploy: {re.escape(site['settings']['target'])}: host \[127\.0\.0\.1\]:{sshd.port} is "
        rf"not in {re.escape(str(empty))} \(its key: ssh-ed25519 SHA256:\S+\); check that "
        rf"fingerprint on the board, then run `ssh-keyscan -p {sshd.port} 127\.0\.0\.1 >> "
        rf"{re.escape(str(empty))}`, or set deploy\.accept_new_host: true", message), message
    assert empty.read_text() == ""
    _old_still_runs(site, tiny_board)
    _deploy(site, known_hosts=str(empty), accept_new_host=True)
    assert empty.read_text() == known_hosts_line(sshd.port, Path(f"{sshd.host_key}.pub"))


def test_changed_host_key_is_always_refused(site, sshd, tiny_board, tmp_path):
    impostor = keygen(tmp_path / "impostor")
    changed = tmp_path / "known_hosts"
    changed.write_text(known_hosts_line(sshd.port, Path(f"{impostor}.pub")))
    for accept in (False, True):
        message = _fails(site, known_hosts=str(changed), accept_new_host=accept)
        assert re.fullmatch(
            rf"deploy: {re.escape(site['settings']['target'])}: the host key of "
            rf"\[127\.0\.0\.1\]:{sshd.port} changed \(now ssh-ed25519 SHA256:\S+, "
            rf"{re.escape(str(changed))} has ssh-ed25519 SHA256:\S+\): refused, this may be an "
            rf"attack; if the board was reinstalled, remove the old key with `ssh-keygen -R "
            rf"'\[127\.0\.0\.1\]:{sshd.port}' -f {re.escape(str(changed))}`", message), message
    _old_still_runs(site, tiny_board)


def test_connection_dropped_mid_upload(site, sshd, tiny_board, tmp_path):
    proxy = DroppingProxy(sshd.port, limit=150_000)
    known = tmp_path / "known_hosts"
    known.write_text(known_hosts_line(proxy.port, Path(f"{sshd.host_key}.pub")))
    try:
        message = _fails(site, target=f"ssh://root@127.0.0.1:{proxy.port}{site['root']}",
                         known_hosts=str(known))
    finally:
        proxy.close()
    assert proxy.dropped.is_set()
    assert re.fullmatch(
        rf"deploy: ssh://root@127\.0\.0\.1:{proxy.port}{re.escape(str(site['root']))}: "
        r"connection lost while uploading \S+ \(\d+ of \d+ files sent\); the previous deployment "
        r"is untouched, rerun doit deploy", message), message
    with open_target(site["settings"], tmp_path, tmp_path) as target:
        status = target.op("status")
    assert status["staging"] != []  # the partial upload is still there...
    _deploy(site)  # ...and a rerun restarts it cleanly
    with open_target(site["settings"], tmp_path, tmp_path) as target:
        assert_current(target, site["new"], previous=site["old"])
        assert_validates(target, tiny_board, tmp_path / "frames")


def _wrapper(tmp_path: Path, body: str) -> str:
    """A stand-in for the target's python: ``body`` (sh) first, then the real interpreter."""
    script = tmp_path / "python-wrapper"
    script.write_text(f"#!/bin/sh\n{body}\nexec {sys.executable} \"$@\"\n")
    script.chmod(0o755)
    return str(script)


def test_file_corrupted_on_the_target_before_the_switch(site, tiny_board, tmp_path):
    """A byte of the staged weights changes on the target between upload and verification."""
    python = _wrapper(tmp_path, 'if [ "$2" = hashes ] && [ "${4%%/*}" = staging ]; then\n'
                                '  printf X | dd of="$3/$4/weights.bin" bs=1 seek=3 '
                                'conv=notrunc 2>/dev/null\nfi')
    message = _fails(site, python=python)
    assert message == (f"deploy: {site['settings']['target']}: weights.bin arrived damaged (its "
                       "sha256 there differs from the manifest's); nothing was switched, rerun "
                       "doit deploy (if it repeats, check the board's storage)")
    _old_still_runs(site, tiny_board)


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of ``size`` KB mounted at tmp_path/board (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = []

    def mount(size_kb: int) -> Path:
        folder = tmp_path / "board"
        folder.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder)],
                       check=True)
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=True)


def _package_kb(package: Path) -> int:
    return sum(-(-p.stat().st_size // 4096) * 4 for p in package.rglob("*") if p.is_file())


def test_disk_full_before_the_upload(sshd, tiny_board, tmp_path, small_disk):
    old = tiny_board.repackage(tmp_path / "old", "1" * 64)
    new = tiny_board.repackage(tmp_path / "new", "2" * 64)
    root = small_disk(_package_kb(old) + 300)  # one version and a validation run fit, not two
    site = {"old": old, "new": new, "root": root, "settings": sshd.settings(str(root)),
            "tmp": tmp_path}
    deploy_overlay(old, tmp_path / "receipt.json", settings=site["settings"],
                   emulator_dir=tmp_path, base_dir=tmp_path)
    message = _fails(site)
    assert re.fullmatch(
        rf"deploy: {re.escape(site['settings']['target'])}: the target's disk is full \(\d+ KB "
        rf"free under {re.escape(str(root))}, the package needs \d+ KB\); free space there and "
        r"rerun doit deploy; the previous deployment is untouched", message), message
    _old_still_runs(site, tiny_board)


def test_disk_full_during_the_upload(sshd, tiny_board, tmp_path, small_disk):
    """The space check passes, then the disk fills (another writer): SFTP fails mid-upload."""
    old = tiny_board.repackage(tmp_path / "old", "1" * 64)
    new = tiny_board.repackage(tmp_path / "new", "2" * 64)
    root = small_disk(2 * _package_kb(old) + 300)
    site = {"old": old, "new": new, "root": root, "settings": sshd.settings(str(root)),
            "tmp": tmp_path}
    deploy_overlay(old, tmp_path / "receipt.json", settings=site["settings"],
                   emulator_dir=tmp_path, base_dir=tmp_path)
    fill = ("import os, sys; s = os.statvfs(sys.argv[1]); "
            "f = os.open(sys.argv[1] + '/ballast', os.O_CREAT | os.O_WRONLY); "
            "os.posix_fallocate(f, 0, s.f_bavail * s.f_frsize - 200 * 1024)")
    python = _wrapper(tmp_path, f'if [ "$2" = prepare ]; then\n  {sys.executable} "$@" || exit\n'
                                f'  {sys.executable} -c "{fill}" "$3"\n  exit 0\nfi')
    message = _fails(site, python=python)
    assert re.fullmatch(
        rf"deploy: {re.escape(site['settings']['target'])}: the target's disk is full \(\d+ KB "
        rf"free, \d+ KB still to send under {re.escape(str(root))}\) while uploading \S+ \(\d+ "
        r"of \d+ files sent\); free space there and rerun doit deploy; the previous deployment "
        r"is untouched", message), message
    _old_still_runs(site, tiny_board)


def test_deploying_process_killed_during_the_switch(site, tiny_board, tmp_path):
    """The deploy process dies (SIGKILL) the moment the target starts switching: current is
    one complete version (old or new), it decodes bit-exact, and a rerun finishes the job."""
    pid_file = tmp_path / "deploy.pid"
    python = _wrapper(tmp_path, f'if [ "$2" = switch ]; then kill -9 "$(cat {pid_file})"; fi')
    settings = {**site["settings"], "python": python}
    code = ("import json, sys; from pathlib import Path; "
            "from grace_flow.deploy.stage import deploy_overlay; a = json.loads(sys.argv[1]); "
            "deploy_overlay(Path(a['package']), Path(a['receipt']), settings=a['settings'], "
            "emulator_dir=Path(a['tmp']), base_dir=Path(a['tmp']))")
    receipt = tmp_path / "receipt.json"
    before = read_receipt(receipt)
    process = subprocess.Popen([sys.executable, "-c", code, json.dumps({
        "package": str(site["new"]), "receipt": str(receipt), "settings": settings,
        "tmp": str(tmp_path)})])
    pid_file.write_text(str(process.pid))
    assert process.wait(120) == -signal.SIGKILL
    assert read_receipt(receipt) == before  # the receipt is not rewritten by a dead deploy
    with open_target(site["settings"], tmp_path, tmp_path) as target:
        for _ in range(50):  # the switch may still be finishing on the target
            status = target.op("status")
            if not status["staging"]:
                break
            time.sleep(0.1)
        installed = {status["current"]} | ({status["previous"]} - {None})
        assert status["current"] in installed and os.path.isdir(
            site["root"] / "versions" / status["current"])
        assert_validates(target, tiny_board, tmp_path / "frames")
    rerun = _deploy(site)
    assert rerun["package"] == package_hash(site["new"])
    with open_target(site["settings"], tmp_path, tmp_path) as target:
        assert_current(target, site["new"], previous=site["old"])
        assert_validates(target, tiny_board, tmp_path / "frames")
