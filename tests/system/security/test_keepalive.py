"""After a 413 the keep-alive connection stays usable, over real HTTP (raw sockets, one connection).

The app answers 413 without reading the body. Left unread, those bytes would be parsed as the next request on the
connection, or make the server close it after announcing keep-alive. The middleware reads and drops the body once
the answer is sent (up to DRAIN_MAX_BYTES), so the next request on the same connection is answered; a larger body
is not waited for and the server closes the connection (it never parses body bytes as a request).

Two servers: Django's threaded WSGI server (live_server, what `runserver` uses) and gunicorn with gthread workers
and keep-alive, as in production (README). gunicorn runs the test settings on an empty SQLite file: the requests
used here (413, and 401 without a token) need no table; the message log write fails and is logged, as designed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from ocpi_platform.ocpi.middleware import DRAIN_MAX_BYTES

ROOT = Path(__file__).resolve().parents[3]
MB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response (Content-Length or chunked); (0, {}, b"") when the server closed the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return 0, {}, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        body, rest = b"", rest
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            body, rest = body + rest[:size], rest[size + 2 :]
        return status, headers, body
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:length]


def _put(host: str, length: int, body: bytes) -> bytes:
    return (
        f"PUT /ocpi/cpo/2.2.1/tokens/DE/EMP/T1 HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode() + body


def _get(host: str) -> bytes:
    return f"GET /ocpi/versions HTTP/1.1\r\nHost: {host}\r\nX-Request-ID: second\r\n\r\n".encode()


def _big_body(size: int) -> bytes:
    return b'{"x": "' + b"a" * (size - 10) + b'"}'


def _check_connection_after_413(host: str, port: int, size: int) -> None:
    body = _big_body(size)
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(_put(host, len(body), body))
        status, headers, answer = _read_response(sock)
        assert status == 413, (status, headers, answer[:200])
        assert orjson.loads(answer)["status_code"] == 2000
        sock.sendall(_get(host))
        status, headers, answer = _read_response(sock)
        if headers.get("connection", "").lower() == "close":
            return  # closing, and saying so, is clean too
        assert status == 401, (status, headers, answer[:200])  # the next request itself, not the old body
        assert headers["x-request-id"] == "second"
        assert orjson.loads(answer)["status_code"] == 2000


def _check_huge_body_is_not_waited_for(host: str, port: int) -> None:
    """50 MB announced, 64 KB sent: the 413 comes at once; the connection is closed, never misparsed."""
    with socket.create_connection((host, port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(_put(host, 50 * MB, b"{" + b" " * 65536))
        status, headers, _ = _read_response(sock)
        assert status == 413 and time.monotonic() - started < 2.0
        if headers.get("connection", "").lower() == "close":
            return
        try:
            sock.sendall(_get(host))
            status, headers, answer = _read_response(sock)
        except OSError:
            return  # reset: closed
        assert status == 0, (status, headers, answer[:200])  # closed without a word, no 400 from body bytes


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", [3 * MB, 12 * MB])
def test_keep_alive_connection_is_usable_after_413_django_server(live_server: Any, size: int) -> None:
    assert size <= DRAIN_MAX_BYTES
    url = urlsplit(live_server.url)
    _check_connection_after_413(url.hostname, url.port, size)


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    port = _free_port()
    tmp = tmp_path_factory.mktemp("gunicorn")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))}
    env.update(
        DJANGO_SETTINGS_MODULE="ocpi_platform.settings.test",
        DATABASE_URL=f"sqlite:///{tmp}/empty.sqlite3",
        REDIS_URL="",
        DJANGO_LOG_LEVEL="WARNING",
    )
    command = [
        str(Path(sys.executable).with_name("gunicorn")), "ocpi_platform.wsgi", "--bind", f"127.0.0.1:{port}",
        "--worker-class", "gthread", "--workers", "1", "--threads", "2", "--keep-alive", "30",
    ]  # fmt: skip
    with (tmp / "gunicorn.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp / "gunicorn.log").read_text()) from None
                time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.parametrize("size", [3 * MB, 12 * MB])
def test_keep_alive_connection_is_usable_after_413_gunicorn(gunicorn: tuple[str, int], size: int) -> None:
    _check_connection_after_413(*gunicorn, size)


def test_huge_body_is_answered_at_once_and_the_connection_closed_gunicorn(gunicorn: tuple[str, int]) -> None:
    _check_huge_body_is_not_waited_for(*gunicorn)


def test_stalled_body_does_not_hold_the_worker_gunicorn(gunicorn: tuple[str, int]) -> None:
    """10 MB announced (drainable), 64 KB sent, then silence: the 413 comes at once, the drain gives up after
    DRAIN_SECONDS and the connection is closed; meanwhile and after, other connections are served."""
    host, port = gunicorn
    with socket.create_connection((host, port), timeout=30) as sock:
        started = time.monotonic()
        sock.sendall(_put(host, 10 * MB, b"{" + b" " * 65536))
        assert _read_response(sock)[0] == 413
        with socket.create_connection((host, port), timeout=10) as other:
            other.sendall(_get(host))
            assert _read_response(other)[0] == 401
        assert sock.recv(1) == b""  # closed by the server
        assert time.monotonic() - started < 20


def test_many_413_in_a_row_on_one_connection_gunicorn(gunicorn: tuple[str, int]) -> None:
    """Body bytes never leak into the next request: three refusals then a normal request, one connection."""
    host, port = gunicorn
    body = _big_body(3 * MB)
    with socket.create_connection((host, port), timeout=10) as sock:
        for _ in range(3):
            sock.sendall(_put(host, len(body), body))
            assert _read_response(sock)[0] == 413
        sock.sendall(_get(host))
        status, headers, _ = _read_response(sock)
        assert status == 401 and headers["x-request-id"] == "second"
