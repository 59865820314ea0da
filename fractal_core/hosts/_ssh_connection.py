"""One shared SSH connection per (host, port, user, key), with reconnection.

The fabric `Connection` (paramiko underneath) is opened lazily, re-opened when
its transport has died, and shared by every `SSHHost` with the same login. A
lock guards only what paramiko does not make safe by itself: opening the
connection and the one SFTP client (exec channels are opened concurrently).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass

import paramiko
from fabric import Config
from fabric import Connection

from .base import HostError

logger = logging.getLogger(__name__)

SFTP_TIMEOUT = 300.0
"""Hang guard (seconds) for one SFTP request on a silent connection."""


class SSHConnectionError(HostError):
    """No SSH connection could be opened (host unreachable, sshd down, ...)."""


class SSHAuthenticationError(SSHConnectionError):
    """The server refused the key."""


class SSHHostKeyError(SSHConnectionError):
    """The server's host key is unknown or differs from the known_hosts file."""


class SSHTransportError(HostError):
    """The connection broke while an operation was under way.

    The operation's outcome on the remote side is unknown: for a command it may
    have run partly or fully. Never the command's own result.
    """


@dataclass(frozen=True)
class Login:
    """Who logs in where, with which key: the key of the connection registry."""

    host: str
    port: int
    user: str
    key_path: str
    known_hosts: str | None = None
    """A known_hosts file: unknown or changed host keys are then refused."""

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


class SharedConnection:
    """A fabric connection that reconnects when its transport has died."""

    def __init__(self, login: Login) -> None:
        self.login = login
        self._lock = threading.Lock()
        self.sftp_lock = threading.RLock()
        self._conn: Connection | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self.connects = 0
        self.commands = 0
        """Exec channels opened (commands, helpers, stop commands): for benchmarks."""
        self.sftp_ops = 0
        """SFTP operations started (stat, read, write, mkdir, put, get)."""

    def _new_connection(self, connect_timeout: float) -> Connection:
        conn = Connection(
            self.login.host,
            user=self.login.user,
            port=self.login.port,
            config=Config(overrides={"load_ssh_configs": False}),
            connect_timeout=connect_timeout,
            connect_kwargs={
                "key_filename": self.login.key_path,
                "look_for_keys": False,
                "allow_agent": False,
                "banner_timeout": connect_timeout,
                "auth_timeout": connect_timeout,
            },
        )
        if self.login.known_hosts is not None:
            conn.client.load_host_keys(self.login.known_hosts)
            conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        return conn

    def _alive(self) -> bool:
        if self._conn is None:
            return False
        transport = self._conn.client.get_transport()
        return transport is not None and transport.is_active()

    def transport_alive(self) -> bool:
        """True while the current connection's transport runs."""
        return self._alive()

    def transport(
        self, *, connect_timeout: float, retries: int, backoff: float
    ) -> paramiko.Transport:
        """The live transport, (re)connecting with retries and backoff if needed."""
        with self._lock:
            if not self._alive():
                self._reconnect(connect_timeout, retries, backoff)
            assert self._conn is not None
            transport = self._conn.client.get_transport()
            assert transport is not None
            return transport

    def _reconnect(self, connect_timeout: float, retries: int, backoff: float) -> None:
        self._drop()
        last: BaseException | None = None
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(backoff * 2 ** (attempt - 1))
            conn = self._new_connection(connect_timeout)
            try:
                conn.open()
            except paramiko.BadHostKeyException as e:
                _close_quietly(conn)
                raise SSHHostKeyError(
                    f"SSH {self.login}: step 'verify host key' failed: the host key "
                    f"differs from the one in {self.login.known_hosts!r}."
                ) from e
            except paramiko.AuthenticationException as e:
                _close_quietly(conn)
                raise SSHAuthenticationError(
                    f"SSH {self.login}: step 'authenticate' failed: the key "
                    f"{self.login.key_path!r} was refused ({e})."
                ) from e
            except (OSError, EOFError, paramiko.SSHException) as e:
                _close_quietly(conn)
                if "not found in known_hosts" in str(e):
                    raise SSHHostKeyError(
                        f"SSH {self.login}: step 'verify host key' failed: the host "
                        f"is not in {self.login.known_hosts!r}."
                    ) from e
                last = e
                logger.info("SSH %s: connect attempt %d failed: %s", self.login,
                            attempt + 1, e)  # fmt: skip
                continue
            _no_delay(conn)
            self._conn = conn
            self.connects += 1
            return
        raise SSHConnectionError(
            f"SSH {self.login}: step 'connect' failed after {retries + 1} "
            f"attempt(s): {_describe(last)}"
        ) from last

    def sftp(
        self, *, connect_timeout: float, retries: int, backoff: float
    ) -> paramiko.SFTPClient:
        """The SFTP client of the live connection (call with `sftp_lock` held)."""
        self.transport(
            connect_timeout=connect_timeout, retries=retries, backoff=backoff
        )
        with self._lock:
            conn = self._conn
            assert conn is not None
            if self._sftp is None:
                try:
                    self._sftp = conn.client.open_sftp()
                except (OSError, EOFError, paramiko.SSHException) as e:
                    raise SSHTransportError(
                        f"SSH {self.login}: step 'open SFTP session' failed: {e}"
                    ) from e
                self._sftp.get_channel().settimeout(SFTP_TIMEOUT)  # type: ignore[union-attr]
            return self._sftp

    def _drop(self) -> None:
        """Forget the current connection (closing whatever is left of it)."""
        if self._sftp is not None:
            _close_quietly(self._sftp)
            self._sftp = None
        if self._conn is not None:
            _close_quietly(self._conn.client)
            self._conn = None

    def close(self) -> None:
        """Close the connection; the next use opens a new one."""
        with self._lock:
            self._drop()


def _close_quietly(
    thing: Connection | paramiko.SSHClient | paramiko.SFTPClient,
) -> None:
    try:
        thing.close()
    except Exception:  # closing a broken connection may fail in many ways
        logger.debug("ignoring an error while closing %r", thing, exc_info=True)


def _no_delay(conn: Connection) -> None:
    """Disable Nagle's algorithm: small requests otherwise wait for delayed ACKs."""
    transport = conn.client.get_transport()
    sock = getattr(transport, "sock", None)
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _describe(e: BaseException | None) -> str:
    if isinstance(e, paramiko.ssh_exception.NoValidConnectionsError):
        return "host unreachable or no sshd listening (" + str(e) + ")"
    if isinstance(e, socket.timeout):
        return f"timed out ({e})"
    return f"{type(e).__name__}: {e}"


_REGISTRY: dict[Login, SharedConnection] = {}
_REGISTRY_LOCK = threading.Lock()


def shared_connection(login: Login) -> SharedConnection:
    """The one `SharedConnection` for `login` (created on first request)."""
    with _REGISTRY_LOCK:
        found = _REGISTRY.get(login)
        if found is None:
            found = _REGISTRY[login] = SharedConnection(login)
        return found


def close_all_connections() -> None:
    """Close every shared SSH connection of this process (they reopen on use)."""
    with _REGISTRY_LOCK:
        shared = list(_REGISTRY.values())
    for conn in shared:
        conn.close()
