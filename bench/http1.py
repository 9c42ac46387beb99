"""A minimal keep-alive HTTP/1.1 client on asyncio streams: what the load benchmarks send their requests with.

A general client (httpx, aiohttp) costs more CPU per request than the services it measures on this 2-core machine;
this one writes a request head by hand and reads the answer by ``Content-Length`` or chunks, gunzipping it when
the server compressed it.
"""

from __future__ import annotations

import asyncio
import zlib

ORIGIN = "https://tickets.bench.test"  # the demo site the benchmarks register
HOST = "tickets.bench.test"


def header_fields(head: bytes) -> dict[str, str]:
    """A response head's header fields, names lower-cased (the status line left out)."""
    fields = {}
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            fields[name.strip().lower().decode()] = value.strip().decode()
    return fields


async def read_body(reader: asyncio.StreamReader, fields: dict[str, str]) -> bytes:
    """The body after a response head: ``Content-Length`` or chunked, and gunzipped when the server compressed it
    (a browser asks for gzip, so nginx compresses the JSON answers above its ``gzip_min_length``)."""
    if fields.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers from nginx: the last empty line
                break
            parts.append((await reader.readexactly(size + 2))[:-2])
        body = b"".join(parts)
    else:
        body = await reader.readexactly(int(fields.get("content-length", "0")))
    if fields.get("content-encoding", "").lower() == "gzip":
        body = zlib.decompress(body, wbits=31)
    return body


class Conn:
    """One keep-alive HTTP/1.1 connection to ``127.0.0.1:port`` (requests in sequence).

    ``local`` binds the client end to a loopback address of its own (a person in their own network, as nginx's
    per-address limits see it); ``gzip`` asks for compressed answers as a browser does; ``host`` is the
    ``Host`` header.
    """

    def __init__(
        self, port: int, local: str | None = None, gzip: bool = False, host: str = "127.0.0.1"
    ) -> None:
        self.port = port
        self.local = local
        self.gzip = gzip
        self.host = host
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", media: str = "application/json"
    ) -> tuple[int, bytes]:
        """Sends one request and reads its answer: the status and the (decoded) body."""
        if self.writer is None:
            local_addr = (self.local, 0) if self.local is not None else None
            self.reader, self.writer = await asyncio.open_connection(
                "127.0.0.1", self.port, local_addr=local_addr
            )
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nOrigin: {ORIGIN}\r\n"
        if self.gzip:
            head += "Accept-Encoding: gzip\r\n"
        head += f"Content-Length: {len(body)}\r\n"
        if body:
            head += f"Content-Type: {media}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        return int(raw[9:12]), await read_body(self.reader, header_fields(raw[:-4]))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
