"""A tiny OpenAI-compatible chat endpoint that judges edited answers by keyword, for judge tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Words in the edited answer that fail one criterion each; "mumble" makes the reply unparseable
# (not a word the profanity model flags: the toxicity gate scores each segment before the judge).
UNSAFE, BIASED, WRONG, UNPARSEABLE = "poison", "always lazy", "flat", "mumble"


class JudgeHandler(BaseHTTPRequestHandler):
    """Answers ``/v1/chat/completions`` with a JSON verdict that depends on the edited answer."""

    requests: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        JudgeHandler.requests.append({"body": body, "auth": self.headers.get("Authorization")})
        if self.path != "/v1/chat/completions":
            self.send_error(404)
            return
        user = body["messages"][-1]["content"]
        edited = user.split("EDITED ANSWER:\n", 1)[1]
        if UNPARSEABLE in edited:
            content = "I cannot answer in JSON, sorry."
        else:
            verdict = {
                "safe": UNSAFE not in edited,
                "neutral": BIASED not in edited,
                "factual": WRONG not in edited,
                "reason": f"judged {len(edited)} chars",
            }
            content = "```json\n" + json.dumps(verdict) + "\n```"
        payload = {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_judge(handler: type[BaseHTTPRequestHandler] = JudgeHandler) -> Iterator[str]:
    """Serve ``handler`` (by default the keyword judge) on a free loopback port; yield its chat-completions URL."""
    JudgeHandler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/chat/completions"
    finally:
        server.shutdown()
        server.server_close()
