"""TCP streams the fake can black-hole (stall) or reset (abort), and a listener making them."""

from __future__ import annotations

import itertools
import socket
import struct

import trio

_ids = itertools.count(1)


class FaultyStream(trio.abc.Stream):
    def __init__(self, inner: trio.SocketStream) -> None:
        self.inner, self.stalled, self.n = inner, False, next(_ids)

    def __repr__(self) -> str:  # trio-websocket's ``remote`` of a non-socket stream
        return f"<FaultyStream {self.n}>"

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if not self.stalled:
            await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        while True:  # while stalled, whatever arrives is swallowed (PINGs, subscriptions)
            data = await self.inner.receive_some(max_bytes)
            if not self.stalled or not data:
                return data

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def abort(self) -> None:
        """Close with a TCP reset: no close frame."""
        self.inner.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     struct.pack("ii", 1, 0))
        await self.inner.aclose()


class FaultyListener(trio.abc.Listener[FaultyStream]):
    def __init__(self, inner: trio.SocketListener, streams: dict[str, FaultyStream]) -> None:
        self.inner, self.streams = inner, streams

    async def accept(self) -> FaultyStream:
        stream = FaultyStream(await self.inner.accept())
        self.streams[repr(stream)] = stream
        return stream

    async def aclose(self) -> None:
        await self.inner.aclose()
