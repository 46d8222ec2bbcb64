"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1 for the LLM judge tests.

The behaviour of each request is chosen by a tag in the judged answer, `[scenario:<name>]`, and the
scores it returns by `[score:<groundedness>/<relevance>/<verdict>]` (default 0.8/0.6/good). It counts
requests per scenario and keeps every request's headers and body, so tests can assert what was
sent and how often.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

DEFAULT_SCORE = (0.8, 0.6, "good")
SLOW_S = 1.0


def _completion(content: str) -> bytes:
    return json.dumps({"id": "cmpl-1", "object": "chat.completion", "model": "judge",
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": content}}]}).encode()


class JudgeServer:
    """Start with `with JudgeServer() as server:`; `server.url` is the `/v1` base URL."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.per_scenario: Counter[str] = Counter()
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner._handle(self, body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, address: None  # a client that timed out is expected
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def count(self) -> int:
        return len(self.requests)

    def __enter__(self) -> Self:
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        request = json.loads(body)
        answer = request["messages"][-1]["content"].split("ANSWER:\n", 1)[-1]
        tag = re.search(r"\[scenario:(\w+)\]", answer)
        scenario = tag.group(1) if tag else "ok"
        score = re.search(r"\[score:([\d.]+)/([\d.]+)/(\w+)\]", answer)
        g, r, v = (float(score.group(1)), float(score.group(2)), score.group(3)) if score else DEFAULT_SCORE
        with self._lock:
            self.requests.append({"path": handler.path, "headers": dict(handler.headers), "body": request})
            self.per_scenario[scenario] += 1
            nth = self.per_scenario[scenario]
        status, headers, payload = self._script(scenario, nth, g, r, v, handler.headers.get("Authorization", ""))
        if handler.path != "/v1/chat/completions":
            status, headers, payload = 404, {}, b'{"error": "not found"}'
        handler.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    @staticmethod
    def _script(scenario: str, nth: int, g: float, r: float, v: str, auth: str) -> tuple[int, dict, bytes]:
        obj = json.dumps({"groundedness": g, "relevance": r, "verdict": v, "reason": f"scripted {scenario}"})
        if scenario == "fenced":
            return 200, {}, _completion(f"Here is my evaluation:\n```json\n{obj}\n```\nLet me know if you need more.")
        if scenario == "prose":
            return 200, {}, _completion(f"After reading the context, my judgement is {obj} as requested.")
        if scenario == "garbage":
            return 200, {}, _completion("The answer looks mostly fine to me, maybe a seven out of ten.")
        if scenario == "nan":
            return 200, {}, _completion('{"groundedness": NaN, "relevance": 0.5, "verdict": "good", "reason": "x"}')
        if scenario == "wordscore":
            return 200, {}, _completion('{"groundedness": "high", "relevance": 0.5, "verdict": "good", "reason": "x"}')
        if scenario == "notchat":
            return 200, {}, b'{"result": "ok"}'
        if scenario == "flaky" and nth == 1:
            return 500, {}, b'{"error": {"message": "internal error"}}'
        if scenario == "ratelimit" and nth == 1:
            return 429, {"Retry-After": "2"}, b'{"error": {"message": "rate limited"}}'
        if scenario == "down":
            return 503, {}, b'{"error": {"message": "overloaded"}}'
        if scenario == "unauthorized":  # echoes the credential the way some proxies do
            return 401, {}, json.dumps({"error": {"message": f"invalid credential: {auth}"}}).encode()
        # Servers that echo the key in a 200 reply or a 5xx body, placed where a cut at a fixed length
        # (120 or 200 characters) would fall inside it.
        key = auth.removeprefix("Bearer ")
        if scenario == "echonotchat":
            return 200, {}, json.dumps({"debug": "x" * 96, "key": key}).encode()
        if scenario == "echoreason":
            return 200, {}, _completion(json.dumps({"groundedness": g, "relevance": r, "verdict": v,
                                                    "reason": f"checked with credential {key}"}))
        if scenario == "echotext":
            return 200, {}, _completion(f"I cannot grade this; my credential {key} has no quota left.")
        if scenario == "echo500":
            return 500, {}, json.dumps({"error": {"message": "y" * 170 + f" credential {key}"}}).encode()
        if scenario == "slow":
            time.sleep(SLOW_S)
        return 200, {}, _completion(obj)
