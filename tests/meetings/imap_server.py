"""A real IMAP server for the calendar-replies tests: Debian's Dovecot (dovecot-imapd, installed by
`.ci/system-packages.sh test`), started on a free 127.0.0.1 port with a configuration of its own
in a temporary folder: one passwd-file user, a maildir, no TLS, nothing under /etc or /var.

Dovecot runs as an unprivileged user: the one running the tests, or `nobody` when that is root
(Dovecot will not hand a mailbox to root). Import the fixture into a test module:
`from tests.meetings.imap_server import dovecot  # noqa: F401`.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass

import pytest

from tests.notify.smtp_server import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USERNAME = "panel@panel.test"
PASSWORD = "an imap password for the tests"


@dataclass
class Mailbox:
    """The organiser's mailbox on the test server, and a few things to do with it."""

    port: int
    folder: str = "INBOX"

    def settings(self) -> dict:
        return {"IMAP_SERVER": "127.0.0.1", "IMAP_PORT": self.port, "IMAP_USE_SSL": False,
                "IMAP_USERNAME": USERNAME, "IMAP_PASSWORD": PASSWORD, "IMAP_FOLDER": self.folder}

    def client(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        imap.login(USERNAME, PASSWORD)
        imap.select(self.folder)
        return imap

    def append(self, raw: bytes) -> int:
        """Deliver a message, unread; returns its IMAP UID."""
        imap = self.client()
        try:
            kind, data = imap.append(self.folder, "()", None, raw)
            assert kind == "OK", data
            # "[APPENDUID <uidvalidity> <uid>] Append completed."
            return int(data[0].split(b"]")[0].split()[-1])
        finally:
            imap.logout()

    def flags(self, uid: int) -> set[str]:
        imap = self.client()
        try:
            kind, data = imap.uid("FETCH", str(uid), "(FLAGS)")
            assert kind == "OK" and data and data[0], data
            text = data[0].decode()
            return set(text.split("FLAGS (", 1)[1].split(")", 1)[0].split())
        finally:
            imap.logout()

    def empty(self) -> None:
        imap = self.client()
        try:
            kind, data = imap.uid("SEARCH", "ALL")
            if data and data[0]:
                imap.uid("STORE", b",".join(data[0].split()), "+FLAGS", "(\\Deleted)")
                imap.expunge()
        finally:
            imap.logout()


def _account() -> tuple[str, str, int, int]:
    """The unprivileged user and group Dovecot runs as (and their ids)."""
    entry = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    group = grp.getgrgid(entry.pw_gid)
    return entry.pw_name, group.gr_name, entry.pw_uid, entry.pw_gid


def _config(folder: str, port: int, user: str, group: str) -> str:
    return f"""\
protocols = imap
listen = 127.0.0.1
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{folder}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={folder}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            return sock.recv(100).startswith(b"* OK")
    except OSError:
        return False


@pytest.fixture(scope="module")
def dovecot():
    """A running Dovecot with one empty mailbox; stopped (by its own process handle) after the module."""
    if not os.path.exists(DOVECOT):
        pytest.skip("Debian's dovecot-imapd is not installed: run `bash .ci/system-packages.sh test` as root")
    user, group, uid, gid = _account()
    folder = tempfile.mkdtemp(prefix="panel-dovecot-")
    port = free_port()
    try:
        for sub in ("run", "state", "mail", "home"):
            os.mkdir(os.path.join(folder, sub))
        with open(os.path.join(folder, "dovecot.conf"), "w") as conf:
            conf.write(_config(folder, port, user, group))
        with open(os.path.join(folder, "passwd"), "w") as passwd:
            passwd.write(f"{USERNAME}:{{PLAIN}}{PASSWORD}\n")
        os.chmod(folder, 0o755)
        if os.geteuid() == 0:  # the folder is made by root: hand it to the user Dovecot runs as
            for root, dirs, files in os.walk(folder):
                for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                    os.chown(name, uid, gid)
        process = subprocess.Popen([DOVECOT, "-F", "-c", os.path.join(folder, "dovecot.conf")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   **({"user": uid, "group": gid, "extra_groups": []} if os.geteuid() == 0 else {}))
        try:
            deadline = time.monotonic() + 20
            while not _answers(port):
                try:  # wait on Dovecot itself: back at once if it exits, else look again
                    process.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    if time.monotonic() > deadline:
                        pytest.fail("Dovecot did not answer within 20 seconds")
                    continue
                log = open(os.path.join(folder, "dovecot.log")).read() if os.path.exists(
                    os.path.join(folder, "dovecot.log")) else ""
                pytest.fail(f"Dovecot did not start: {process.stderr.read().decode(errors='replace')[-2000:]} {log[-2000:]}")
            yield Mailbox(port=port)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
            process.stderr.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
