"""A scripted stand-in for the Anthropic Messages API, for driving the real Claude Code CLI offline.

It listens on 127.0.0.1 only, answers `POST /v1/messages` with the streaming events the API sends
(message_start, content_block_start/delta/stop for text and tool_use blocks, message_delta, message_stop)
and records every request. Sessions run in parallel against one server: each registers a `Script` under a
key (its project folder, which Claude Code writes into every system prompt), and each request with tools goes
to the script whose key appears in it. Requests without tools (titles, summaries) get plain text.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

_ids = itertools.count(1)


@dataclass
class Reply:
    """One assistant turn: optional text, then optional tool calls [(name, input)]."""

    text: str = ""
    tools: list = field(default_factory=list)


def tool(name: str, **tool_input) -> Reply:
    return Reply(tools=[(name, tool_input)])


def say(text: str) -> Reply:
    return Reply(text=text)


@dataclass
class Script:
    """Answers a session's requests in order: `steps` are Replies or callables(request) -> Reply."""

    key: str
    steps: list
    requests: list = field(default_factory=list)
    errors: list = field(default_factory=list)  # exceptions raised by steps (shown by the test that failed)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: dict) -> Reply:
        with self.lock:
            self.requests.append(request)
            if not self.steps:
                return say("Done.")
            step = self.steps.pop(0)
        if not callable(step):
            return step
        try:
            return step(request)
        except Exception as exc:  # a broken step must fail its test, not the server
            self.errors.append(f"step {len(self.requests)}: {exc!r}")
            return say(f"Scripted step failed: {exc!r}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that hangs up early is not news
        pass


class ModelServer:
    """The server; `url` is its base URL for ANTHROPIC_BASE_URL."""

    def __init__(self):
        self.scripts: dict[str, Script] = {}
        self.requests: list[dict] = []  # every request body, in arrival order
        self.unrouted: list[dict] = []  # requests with tools that matched no script (a test bug)
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"model": self})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "ModelServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def register(self, key: str, steps: list) -> Script:
        script = Script(key, list(steps))
        with self._lock:
            self.scripts[key] = script
        return script

    def route(self, body: dict, raw: str) -> Reply:
        with self._lock:
            self.requests.append(body)
            scripts = [s for s in self.scripts.values() if s.key in raw]
        if not body.get("tools"):
            return say("Validation run")  # title generation and other tool-less side requests
        if len(scripts) != 1:
            with self._lock:
                self.unrouted.append(body)
            return say("No script for this session.")
        return scripts[0].answer(body)


class _Handler(BaseHTTPRequestHandler):
    model: ModelServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_HEAD(self):
        self._json(200, {})

    def do_GET(self):
        self._json(404, {"type": "error", "error": {"type": "not_found_error", "message": "not here"}})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace")
        path = self.path.split("?")[0]
        if path.endswith("/count_tokens"):
            self._json(200, {"input_tokens": max(1, len(raw) // 4)})
            return
        if not path.endswith("/v1/messages"):
            self._json(404, {"type": "error", "error": {"type": "not_found_error", "message": path}})
            return
        body = json.loads(raw)
        reply = self.model.route(body, raw)
        if body.get("stream"):
            self._stream(body, reply)
        else:
            self._json(200, _message(body, reply))

    def _json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, body: dict, reply: Reply) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        message = _message(body, reply)
        blocks = message.pop("content")
        stop_reason = message["stop_reason"]
        head = dict(message, content=[], stop_reason=None)
        events = [("message_start", {"type": "message_start", "message": head})]
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                start = {"type": "text", "text": ""}
                delta = {"type": "text_delta", "text": block["text"]}
            else:
                start = dict(block, input={})
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
            events += [
                ("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}),
                ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}),
                ("content_block_stop", {"type": "content_block_stop", "index": index}),
            ]
        events += [
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                               "usage": {"output_tokens": 10}}),
            ("message_stop", {"type": "message_stop"}),
        ]
        for name, data in events:
            self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()
        self.close_connection = True


def _message(body: dict, reply: Reply) -> dict:
    content = []
    if reply.text or not reply.tools:
        content.append({"type": "text", "text": reply.text or "Done."})
    for name, tool_input in reply.tools:
        content.append({"type": "tool_use", "id": f"toolu_{next(_ids):06d}", "name": name, "input": tool_input})
    return {
        "id": f"msg_{next(_ids):06d}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "claude-scripted"),
        "content": content,
        "stop_reason": "tool_use" if reply.tools else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 10, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0},
    }


Responder = Callable[[dict], Reply]
