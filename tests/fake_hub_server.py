"""A Hugging Face hub on 127.0.0.1, for download tests that never touch the real one.

It answers the endpoints ``huggingface_hub`` calls for ``snapshot_download``:
the revision info (``/api/models/{repo}/revision/{rev}``), the recursive tree
listing (``/api/models/{repo}/tree/{rev}``) and ``HEAD``/``GET``
``/{repo}/resolve/{rev}/{file}`` with the ``X-Repo-Commit`` and ``ETag``
headers the client needs (and ``Range`` for resumed downloads). A repo can be
gated (401 ``GatedRepo`` unless the request carries one of ``tokens`` as its
bearer token); unknown repos answer 404 ``RepoNotFound``; a file
can be made to break midway (the connection drops after some bytes, and the
hub then answers 500 until ``heal``), once or for good.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

SD15_REPO = "stable-diffusion-v1-5/stable-diffusion-v1-5"
# Files a whole-repository download would fetch and the catalogue must not: pickles, extras.
DECOYS = {
    "unet/diffusion_pytorch_model.bin": b"not fetched: a pickle",
    "v1-5-pruned-emaonly.ckpt": b"not fetched: a pickle",
    "unet/diffusion_pytorch_model.safetensors": b"not fetched: the fp32 copy",
    "README.md": b"# not fetched",
}


_API = re.compile(r"^/api/models/([^/]+/[^/]+)/(revision|tree)/([^/?]+)")
_RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")


@dataclass
class Breakage:
    """``path`` drops its connection after ``after`` bytes; ``forever``: the hub then stays down.

    ``stall``: instead of dropping, every attempt hangs after ``after`` bytes until
    the server stops (a network that stopped answering).
    """

    path: str
    after: int
    forever: bool = False
    broke: bool = False
    stall: bool = False


@dataclass
class FakeHub:
    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)
    gated: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)  # bearer tokens that open a gated repo
    breakage: Breakage | None = None
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, range
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def commit(self, repo_id: str) -> str:
        return hashlib.sha1(repo_id.encode()).hexdigest()

    def gets(self, name: str) -> list[str]:
        """The Range headers of every GET of file ``name`` (any repo)."""
        return [r for m, p, r in self.requests if m == "GET" and p.endswith("/" + name)]

    def heal(self) -> None:
        self.breakage = None


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return

        def do_HEAD(self) -> None:
            self.answer(send_body=False)

        def do_GET(self) -> None:
            self.answer(send_body=True)

        def answer(self, send_body: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            with hub.lock:
                hub.requests.append((self.command, path, self.headers.get("Range", "")))
            broken = hub.breakage
            if broken is not None and broken.broke:
                return self.status(500, "Hub is down", "")
            api, resolve = _API.match(path), _RESOLVE.match(path)
            repo_id = (api or resolve).group(1) if (api or resolve) else ""
            if repo_id in hub.gated and self.bearer() not in hub.tokens:
                return self.status(401, "Access to model is restricted", "GatedRepo")
            if repo_id not in hub.repos:
                return self.status(404, "Repository not found", "RepoNotFound")
            if api:
                return self.api(repo_id, api.group(2))
            self.file(repo_id, resolve.group(3), send_body)

        def bearer(self) -> str:
            scheme, _, token = self.headers.get("Authorization", "").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""

        def api(self, repo_id: str, kind: str) -> None:
            files = hub.repos[repo_id]
            if kind == "revision":
                body: object = {
                    "id": repo_id,
                    "sha": hub.commit(repo_id),
                    "siblings": [{"rfilename": name} for name in sorted(files)],
                }
            else:
                body = [
                    {"type": "file", "path": name, "size": len(data), "oid": _sha1(data)}
                    for name, data in sorted(files.items())
                ]
            self.send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

        def file(self, repo_id: str, name: str, send_body: bool) -> None:
            data = hub.repos[repo_id].get(name)
            if data is None:
                return self.status(404, "Entry not found", "EntryNotFound")
            headers = {
                "X-Repo-Commit": hub.commit(repo_id),
                "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                "Accept-Ranges": "bytes",
            }
            start = _range_start(self.headers.get("Range", ""))
            if not send_body:
                return self.send(200, b"", headers, length=len(data))
            if start:
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            self.send_body(206 if start else 200, name, data, start, headers)

        def send_body(
            self, code: int, name: str, data: bytes, start: int, headers: dict[str, str]
        ) -> None:
            broken = hub.breakage
            if broken is None or broken.path != name or start:
                return self.send(code, data[start:], headers)
            self.send_response(code)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: broken.after])
            self.wfile.flush()
            if broken.stall:
                hub.stopping.wait()
            self.close_connection = True
            if broken.forever:
                broken.broke = True
            elif not broken.stall:
                hub.breakage = None

        def status(self, code: int, message: str, error_code: str) -> None:
            headers = {"X-Error-Message": message}
            if error_code:
                headers["X-Error-Code"] = error_code
            body = json.dumps({"error": message}).encode()
            self.send(code, body if self.command == "GET" else b"", headers, length=len(body))

        def send(
            self, code: int, body: bytes, headers: dict[str, str], length: int | None = None
        ) -> None:
            self.send_response(code)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            if body:
                self.wfile.write(body)

    return Handler


@contextmanager
def running(hub: FakeHub) -> Iterator[FakeHub]:
    """Serve ``hub`` on a free port of 127.0.0.1 for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield hub
    finally:
        hub.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def _range_start(header: str) -> int:
    match = re.match(r"bytes=(\d+)-", header)
    return int(match.group(1)) if match else 0


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()
