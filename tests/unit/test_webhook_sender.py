"""The webhook sender's whole exchange is bounded, not only each read: a receiver on
127.0.0.1 that trickles its answer a byte at a time (each read well within the timeout)
cannot hold a delivery, and with it the sweep, past the timeout."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from chalicelib.services.webhooks import sender
from chalicelib.services.webhooks.addresses import Target


@pytest.fixture
def trickling() -> Iterator[int]:
    """A receiver that answers one header byte every 20 ms, for ever (until the test ends)."""
    server = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            while not done.wait(0.02):  # the slow peer under test, not a wait for the test
                try:
                    conn.sendall(b"X")
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    done.set()
    server.close()
    thread.join(5)


def test_a_receiver_trickling_its_answer_is_cut_at_the_timeout(trickling: int) -> None:
    target = Target("http", "127.0.0.1", trickling, "/hook", "127.0.0.1")
    answer = sender.post(target, b"{}", {}, timeout=0.3, keep_bytes=100)
    assert (answer.status, answer.error) == (0, "deadline"), answer
