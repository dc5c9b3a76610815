"""Fixtures of the client tests: a live TradeOffice (pytest-django's live_server: real HTTP, the test
database, this run's Redis database), an agent token, and a gate in front of the server that can go
down (connections refused), lose answers (the request reaches the server, its answer never comes
back) or answer 503 itself, as a load balancer would during a deploy."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from apps.common import redis as shared_redis
from apps.memory.services import embeddings, long_term
from tests.agents.factories import AgentFactory
from tests.factories import ExchangeFactory

TEST_DIMENSION = 64


@pytest.fixture(autouse=True)
def memory_stores(settings):
    """Short-term memory in this run's Redis database (flushed), long-term memory in memory."""
    settings.QDRANT_URL = ""
    settings.QDRANT_PATH = ":memory:"
    settings.MEMORY_EMBEDDER = "hashing"
    settings.MEMORY_EMBEDDING_DIMENSION = TEST_DIMENSION
    settings.REDIS_KEY_PREFIX = ""
    settings.EXCHANGE_CCXT_THROTTLE = False
    long_term.reset_backend()
    embeddings.reset_embedder()
    shared_redis.outage_reporter.reset()
    shared_redis.get_client().flushdb()  # only this run's database number (REDIS_URL)
    yield
    long_term.reset_backend()
    embeddings.reset_embedder()
    shared_redis.outage_reporter.reset()
    shared_redis.reset_client()


@pytest.fixture
def agent(transactional_db):
    return AgentFactory(name="client-trader")


@pytest.fixture
def binance(transactional_db):
    return ExchangeFactory(name="binance")


class Gate:
    """A TCP relay on loopback in front of the live server: `up`, `down` (refuses every connection),
    `lose_answers` (forwards the request, then drops the connection before the answer) or
    `busy(n)` (the next n requests get a 503 with Retry-After: 1)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode = "up"
        self.busy_left = 0
        self.busy_served = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, name="gate", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def busy(self, n: int) -> None:
        self.busy_left = n

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            if self.mode == "down":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                return  # closed with a reset: the client's request fails as a refused connection does
            if self.busy_left > 0:
                self.busy_left -= 1
                self.busy_served += 1
                _read_request(conn)
                body = b'{"code":"service_unavailable","message":"Deploying; retry shortly.","details":{}}'
                conn.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                    b"Content-Type: application/json\r\n"
                    b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
                return
            with socket.create_connection(self.target) as upstream:
                request = _read_request(conn)
                upstream.sendall(request)
                answer = _read_answer(upstream)
                if self.mode == "lose_answers":
                    return  # the server has done the work; the client never hears of it
                conn.sendall(answer)


def _read_until_headers(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def _read_request(sock: socket.socket) -> bytes:
    head, body = _read_until_headers(sock)
    length = _content_length(head)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    # One request per connection: the relay asks the server to close after answering.
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body


def _read_answer(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


@pytest.fixture
def gate(live_server) -> Iterator[Gate]:
    host, port = live_server.thread.host, live_server.thread.port
    relay = Gate(host, port)
    yield relay
    relay.close()
