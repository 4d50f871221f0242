"""A loopback OpenAI-compatible server for the ``generate`` tests and benchmark.

:class:`LoopbackServer` answers ``POST /v1/chat/completions`` on 127.0.0.1 (a
free port) from a threaded ``http.server``. Answers are derived
deterministically from the request (persona, question and seed), so a rerun
gets the same answers. A :class:`Faults` plan injects 429s, 500s, malformed
and slow answers, chosen per request by a hash, so they too are reproducible.
The server counts every request it receives and every answer it gives per
request key (the body without ``response_format``), which is what the tests
compare with the run record.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "Faults",
    "LoopbackServer",
    "judge_policy",
    "request_key",
    "survey_policy",
]

_OPTION_LINE = re.compile(r"^\s*([A-Z])\.\s+(.+?)\s*$", re.MULTILINE)


def _hash(*parts: Any) -> int:
    text = json.dumps(parts, sort_keys=True, default=str)
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


def request_key(body: dict[str, Any]) -> str:
    """The key the server counts requests by: the body without ``response_format``."""
    kept = {k: v for k, v in body.items() if k != "response_format"}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()


def _prompt(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content", "")) for m in body.get("messages", []))


def _schema_options(body: dict[str, Any]) -> list[str] | None:
    schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema", {})
    answer = schema.get("properties", {}).get("answer", {})
    return list(answer["enum"]) if "enum" in answer else None


def survey_policy(body: dict[str, Any]) -> tuple[list[str], int, str]:
    """Options (labels), the chosen index and the plain-text reply for a survey prompt.

    The options are the schema's enum, or the ``A. label`` lines of the
    prompt. The choice depends on the prompt (persona and question) and the
    seed only.
    """
    prompt = _prompt(body)
    lines = _OPTION_LINE.findall(prompt)
    options = _schema_options(body) or [label for _, label in lines]
    choice = _hash(prompt, body.get("seed")) % max(len(options), 1)
    label = options[choice] if options else ""
    style = _hash("style", prompt, body.get("seed")) % 3
    letter = chr(ord("A") + choice)
    text = [label, f"{letter}", f"My answer: {letter}. {label}"][style]
    return options, choice, text


_SLOT = re.compile(r"\[The Start of Assistant ([AB])'s Answer\]\n(.*?)\n\[The End", re.DOTALL)


def judge_policy(body: dict[str, Any]) -> tuple[list[str], int, str]:
    """A judge that prefers the longer response, and the first one on equal length.

    The ``A``/``B`` slots are read from the default judge template, so the
    same pair shown in the other order gets the mirrored verdict except on a
    length tie, where it favours the first position (an order bias).
    """
    slots = dict(_SLOT.findall(_prompt(body)))
    first, second = len(slots.get("A", "")), len(slots.get("B", ""))
    options = ["A", "B", "tie"]
    choice = 0 if first >= second else 1
    if abs(first - second) == 1:
        choice = 2
    return options, choice, options[choice]


@dataclass(frozen=True)
class Faults:
    """Which requests fail, and how, chosen by a hash of the request key.

    Attributes
    ----------
    rate_429, rate_500 : float
        Shares of request keys whose first attempt gets a 429 or a 500.
    rate_malformed : float
        Share of keys always answered with text no parser can read.
    rate_slow : float
        Share of keys answered after ``slow_seconds``.
    slow_seconds : float
        Delay of a slow answer.
    """

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_malformed: float = 0.0
    rate_slow: float = 0.0
    slow_seconds: float = 0.05

    def draw(self, key: str, what: str) -> bool:
        """Whether the fault ``what`` hits ``key``."""
        rate = getattr(self, f"rate_{what}")
        return _hash(what, key) % 10_000 < rate * 10_000


MALFORMED = ("I would rather not say.", "", "{not json", "Approve? Disapprove? Hard to say.")


class _Server(ThreadingHTTPServer):
    """A threaded HTTP server with room for many waiting connections."""

    request_queue_size = 1024
    daemon_threads = True


class LoopbackServer:
    """An OpenAI-compatible chat-completions server on 127.0.0.1.

    Parameters
    ----------
    policy : callable
        ``policy(body) -> (options, choice, text)``: the answer to a request
        (see :func:`survey_policy`).
    faults : Faults, optional
        Injected failures.
    structured : bool
        Whether ``response_format`` JSON schemas are accepted (else 400).
    logprobs : bool
        Whether log-probabilities are returned when asked for.
    """

    def __init__(
        self,
        policy: Callable[[dict[str, Any]], tuple[list[str], int, str]] = survey_policy,
        *,
        faults: Faults | None = None,
        structured: bool = True,
        logprobs: bool = True,
    ) -> None:
        self.policy = policy
        self.faults = faults or Faults()
        self.structured = structured
        self.logprobs = logprobs
        self.received: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.malformed: set[str] = set()
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset_counts(self) -> None:
        """Forget the counts (the answers and faults stay as they are)."""
        with self._lock:
            self.received.clear()
            self.answered.clear()
            self.injected.clear()
            self.bodies.clear()

    # ------------------------------------------------------------------ answers

    def respond(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        """Status, JSON reply and delay for one request body."""
        key = request_key(body)
        with self._lock:
            attempt = self.received[key]
            self.received[key] += 1
            self.bodies.append(body)
        if body.get("response_format") and not self.structured:
            return 400, _error("response_format is not supported by this server"), 0.0
        if attempt == 0:
            for status in ("429", "500"):
                if self.faults.draw(key, status):
                    with self._lock:
                        self.injected[status] += 1
                    return int(status), _error(f"injected {status}"), 0.0
        delay = self.faults.slow_seconds if self.faults.draw(key, "slow") else 0.0
        options, choice, text = self.policy(body)
        if body.get("response_format") and self.structured:
            text = json.dumps({"answer": options[choice]})
        if self.faults.draw(key, "malformed"):
            text = MALFORMED[_hash("malformed", key) % len(MALFORMED)]
            with self._lock:
                self.malformed.add(key)
        with self._lock:
            self.answered[key] += 1
        reply = _completion(body, text)
        if body.get("logprobs") and self.logprobs and options:
            reply["choices"][0]["logprobs"] = _logprobs(body, options, choice)
            if not self.faults.draw(key, "malformed"):
                reply["choices"][0]["message"]["content"] = chr(ord("A") + choice)
        return 200, reply, delay

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # headers and body leave in one write
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    status, reply, delay = 404, _error(f"no route {self.path}"), 0.0
                else:
                    status, reply, delay = server.respond(body)
                if delay:
                    time.sleep(delay)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def _error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": None}}


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    prompt_tokens = max(1, len(_prompt(body)) // 4)
    completion_tokens = max(1, len(text) // 4)
    return {
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "loopback"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _logprobs(body: dict[str, Any], options: list[str], choice: int) -> dict[str, Any]:
    """Top log-probabilities of the first token: the option letters, the choice likeliest."""
    weights = [1.0 + (_hash("p", _prompt(body), k) % 100) / 100 for k in range(len(options))]
    weights[choice] += 1.0
    total = sum(weights)
    top = [
        {"token": chr(ord("A") + k), "logprob": math.log(w / total), "bytes": None}
        for k, w in enumerate(weights)
    ]
    top.sort(key=lambda item: -item["logprob"])
    first = top[0]
    return {"content": [{**first, "top_logprobs": top[: body.get("top_logprobs") or 5]}]}
