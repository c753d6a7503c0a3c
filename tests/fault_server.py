"""A small OpenAI-compatible HTTP server on loopback that fails in a seeded pattern (test-only).

It answers `POST /v1/chat/completions` and `POST /v1/completions`. For each prompt it decides, from
the prompt's text and the seed only (not the order requests arrive in), a sequence of transient
faults to serve before the real answer:

- `server_error`: HTTP 500,
- `rate_limited`: HTTP 429 with `Retry-After` (fractional seconds),
- `slow`: the answer only after `slow_s` seconds, past the client's timeout,
- `cut`: a 200 whose body is cut off mid-way (Content-Length promises more), then the connection closes,
- `drop`: the connection closes without any response,

and, for a few prompts, a permanent fault: every answer is text that is not in the expected layout.
The real answer comes from a `responder(query, body) -> text` (e.g. `expert_responder`, which writes
what the task's scripted expert would).
"""
from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tripost.format import FEEDBACK_PREFIX, QUESTION_PREFIX, UPDATE_START, parse_feedback, strip_answer_start

TRANSIENT = ("server_error", "rate_limited", "slow", "cut", "drop")
BAD_LAYOUT = ["The answer looks mostly right to me, but I would double-check it.",
              "Step 2 might be wrong?", "", "Feedback: maybe step (2)", "I cannot help with that."]


def request_query(body: dict) -> str:
    "The query of a request: the last user message (chat) or the last `Q:` block of the prompt (completions)."
    if "messages" in body:
        users = [m.get("content") or "" for m in body["messages"] if m.get("role") == "user"]
        return users[-1] if users else ""
    prompt = body.get("prompt") or ""
    if isinstance(prompt, list): prompt = prompt[0] if prompt else ""
    i = prompt.rfind("\n\n" + QUESTION_PREFIX)
    query = prompt[i + 2:] if i >= 0 else prompt
    for start in ("\n" + FEEDBACK_PREFIX.strip(), "\n" + UPDATE_START): # what the answer starts with
        if query.endswith(start): return query[: -len(start)]
    return query


def expert_responder(task, examples):
    "A responder that answers feedback and improvement prompts as the task's scripted expert would."
    by_question = {ex.question.strip(): ex for ex in examples}

    def respond(query: str, body: dict) -> str:
        q, _, rest = query.partition("\n")
        head = query[len(QUESTION_PREFIX):]
        qtext, _, after = head.partition("\nAnswer: Let's think step by step.\n")
        ex = by_question.get(qtext.strip())
        if ex is None: return "I do not know this question."
        attempt, sep, fb_line = after.partition("\n" + FEEDBACK_PREFIX.strip())
        if sep: # an improvement prompt
            fb = parse_feedback(FEEDBACK_PREFIX + fb_line.strip())
            return UPDATE_START + "\n" + task.improve(ex, attempt, fb)
        return task.feedback(ex, attempt).line
    return respond


class FaultServer:
    "An OpenAI-compatible loopback server that serves seeded faults before each real answer."

    def __init__(self, responder, seed=0, fault_rate=0.5, bad_layout_rate=0.06, max_faults=3,
                 slow_s=1.0, retry_after=0.2, echo_auth=False, delay_s=0.0):
        self.responder, self.seed = responder, seed
        self.fault_rate, self.bad_layout_rate, self.max_faults = fault_rate, bad_layout_rate, max_faults
        self.slow_s, self.retry_after, self.echo_auth, self.delay_s = slow_s, retry_after, echo_auth, delay_s
        self.lock = threading.Lock()
        self.attempts = Counter()          # prompt key -> requests so far
        self.plans = {}                    # prompt key -> (faults, bad_layout)
        self.events = defaultdict(list)    # prompt key -> [(time, outcome)]
        self.auth_seen = set()             # Authorization headers received (to prove a key was sent)
        self.in_flight = self.max_in_flight = 0
        self.httpd = None

    # ---- the plan ----
    def plan(self, query: str):
        key = hashlib.sha256(query.encode()).hexdigest()
        rng = random.Random(f"{self.seed}/{key}")
        faults = ([rng.choice(TRANSIENT) for _ in range(rng.randint(1, self.max_faults))]
                  if rng.random() < self.fault_rate else [])
        bad = rng.random() < self.bad_layout_rate
        return key, faults, bad, rng.choice(BAD_LAYOUT)

    def plan_summary(self) -> dict:
        with self.lock:
            plans = list(self.plans.values())
        return dict(prompts=len(plans), items_with_fault=sum(bool(f) or b for f, b in plans),
                    bad_layout=sum(b for _, b in plans), transient_planned=sum(len(f) for f, _ in plans))

    def served_summary(self) -> dict:
        with self.lock:
            events = {k: list(v) for k, v in self.events.items()}
        kinds = Counter(o for ev in events.values() for _, o in ev)
        total = sum(kinds.values())
        faulty = total - kinds["ok"]
        honoured = True
        for ev in events.values():
            for (t0, o), (t1, _) in zip(ev, ev[1:]):
                if o == "rate_limited" and t1 - t0 < self.retry_after - 0.01: honoured = False
        return dict(total=total, faulty=faulty, by_kind={k: v for k, v in kinds.items() if k != "ok"},
                    retry_after_honoured=honoured)

    # ---- serving ----
    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a): pass

            def _json(self, code, obj, headers=()):
                self._leave()
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers: self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    return self._json(200, dict(object="list", data=[dict(id="fault-model", object="model")]))
                self._json(404, dict(error=dict(message="not found")))

            def do_POST(self):
                with server.lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    server.auth_seen.add(self.headers.get("Authorization"))
                self._counted = True
                try: self._post()
                finally: self._leave()

            def _leave(self):
                "Count this request as finished: called before its reply is written, because a client that has its reply may send the next request before this thread returns."
                if getattr(self, "_counted", False):
                    with server.lock: server.in_flight -= 1
                    self._counted = False

            def _post(self):
                try:
                    body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                except ValueError:
                    return self._json(400, dict(error=dict(message="bad JSON")))
                path = self.path.rstrip("/")
                chat = path == "/v1/chat/completions"
                if not chat and path != "/v1/completions":
                    return self._json(404, dict(error=dict(message="not found")))
                query = request_query(body)
                key, faults, bad, bad_text = server.plan(query)
                with server.lock:
                    n = server.attempts[key]; server.attempts[key] += 1
                    server.plans[key] = (faults, bad)
                    outcome = faults[n] if n < len(faults) else ("bad_layout" if bad else "ok")
                    server.events[key].append((time.time(), outcome))
                self.close_connection = True
                if outcome == "server_error":
                    msg = "internal error"
                    if server.echo_auth: msg += f" (request had {self.headers.get('Authorization')})"
                    return self._json(500, dict(error=dict(message=msg, type="server_error")))
                if outcome == "rate_limited":
                    return self._json(429, dict(error=dict(message="slow down", type="rate_limit")),
                                      [("Retry-After", str(server.retry_after))])
                if outcome == "drop":
                    return
                text = bad_text if outcome == "bad_layout" else server.responder(query, body)
                if not chat and outcome != "bad_layout": # a completion continues the prompt's "Feedback:" or "Updated Answer:" line
                    if text.startswith(FEEDBACK_PREFIX.strip()): text = " " + text[len(FEEDBACK_PREFIX.strip()):].strip()
                    elif text.startswith(UPDATE_START): text = "\n" + strip_answer_start(text)
                usage = dict(prompt_tokens=len(json.dumps(body)) // 4, completion_tokens=max(1, len(text) // 4))
                usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
                choice = (dict(index=0, message=dict(role="assistant", content=text), finish_reason="stop") if chat
                          else dict(index=0, text=text, finish_reason="stop", logprobs=None))
                resp = dict(id="x", object="chat.completion" if chat else "text_completion", created=0,
                            model=body.get("model", "fault-model"), choices=[choice], usage=usage)
                time.sleep(server.slow_s if outcome == "slow" else server.delay_s)
                self._leave()
                try:
                    if outcome == "cut":
                        data = json.dumps(resp).encode()
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data[: len(data) // 2]); self.wfile.flush()
                        return
                    self._json(200, resp)
                except OSError:
                    pass # the client gave up (slow): nothing to do
        return Handler

    def start(self) -> "FaultServer":
        class Server(ThreadingHTTPServer):
            request_queue_size = 128 # concurrent clients must not be refused by a short listen backlog
            daemon_threads = True
        self.httpd = Server(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    @property
    def base_url(self) -> str: return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def stop(self):
        if self.httpd:
            self.httpd.shutdown(); self.httpd.server_close(); self.httpd = None

    def __enter__(self): return self.start()
    def __exit__(self, *exc): self.stop()
