"""A real SMTP server on a free local port that keeps every mail it receives (aiosmtpd)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Sink:
    """The mails an SMTP server received, parsed."""

    port: int
    mails: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: addresses the server refuses at RCPT TO (550), as a relay does an unknown mailbox
    refuse: set[str] = field(default_factory=set)
    #: every refused RCPT TO, in order
    refused: list[str] = field(default_factory=list)
    #: when set, DATA waits for `release` before accepting; `arrived` says it is waiting
    held: bool = False
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            with self.lock:
                self.refused.append(address)
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.held:
            self.arrived.set()
            # waited for off the server's event loop, which must keep running
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.mails.append(parsed)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        """The mails addressed to someone."""
        with self.lock:
            return [m for m in self.mails if m["To"] == address]


@contextmanager
def smtp_sink(
    port: int | None = None, *, refuse: set[str] | None = None, held: bool = False
) -> Iterator[Sink]:
    """Run an SMTP server on 127.0.0.1 (a free port unless given) for the block's duration."""
    sink = Sink(port or free_port(), refuse=set(refuse or ()), held=held)
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        sink.release.set()
        controller.stop()
