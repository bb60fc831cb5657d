#!/usr/bin/env python3
"""Fault-injecting HTTP/1.1 reverse proxy for the dwops test bench (stdlib only).

Sits in front of an HTTP upstream (moto) and forwards every request verbatim
(method, path, query, all headers in order including the client's Host, body),
so SigV4 signatures stay valid; responses are relayed back.  Client and
upstream connections are kept alive.

Faults are configured at run time through the proxy's own control endpoint:

  POST   /__fault__         {"rules": [RULE, ...]}   replace the rules (stats reset)
                            {"rules": [...], "append": true}  add to them
  GET    /__fault__         the rules with their counters
  GET    /__fault__/stats   {"requests":N,"forwarded":N,"faulted":N,"rules":[...]}
  DELETE /__fault__         remove all rules, reset counters

RULE = {
  "match": {                       # every key given must match; {} matches all
     "target": "AmazonSQS.SendMessageBatch",  # X-Amz-Target header (exact)
     "action": "DescribeDBInstances",         # query Action= (URL or form body) or
                                              # the operation part of X-Amz-Target
     "path_prefix": "/bucket",                # request path (without query) prefix
     "method": "PUT",
     "header": {"name": "value"},             # exact header values
     "body_contains": "text"
  },
  "fault": "throttle" | "503" | "500" | "drop" | "drop_response" | "slow" | "error"
           | "rewrite" | "respond",
  "times": N,          # fault at most N requests (absent/null: forever)
  "skip": K,           # let the first K matching requests through first
  "delay_ms": 2000,    # "slow": delay before forwarding (other faults: before answering)
  "status": 400, "code": "...", "message": "...",   # "error" (or overrides)
  "protocol": "json" | "query" | "rest-xml"          # override protocol detection
}

"throttle" answers like AWS would for the request's protocol:
  JSON (X-Amz-Target / application/x-amz-json-*): 400 {"__type":"ThrottlingException",...}
  query (Action=...):                              400 <ErrorResponse>..Throttling..
  REST-XML (S3 and the rest):                      503 <Error><Code>SlowDown</Code>..
"503"/"500" answer ServiceUnavailable / InternalError in the same shapes.
"rewrite" forwards the request, then edits the answer's body: "replace" is a
list of [regex, replacement] pairs (Python re.sub, applied in order).
"respond" answers by itself: "status" (200), "headers" ({name: value}),
"body" (text) repeated "repeat" times (1), gzip-compressed with
Content-Encoding: gzip when "gzip" is true (a small answer that inflates to
a huge one), or "body_b64" (raw bytes).
"drop" closes the connection without a response (request not forwarded);
"drop_response" forwards the request, then closes without relaying the answer.
Counters: per rule "seen" (requests it matched) and "faulted".

Module:  url, stop = start_proxy("http://127.0.0.1:PORT")
         FaultClient(url).set_rules([...]); .stats(); .clear()
CLI:     python tests/bench/faultproxy.py UPSTREAM_URL [--port N]   (prints its URL)
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import re
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, List, Optional, Tuple

CONTROL = "/__fault__"
FAULTS = {"throttle", "503", "500", "drop", "drop_response", "slow", "error", "rewrite",
          "respond"}
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
              "upgrade", "expect", "proxy-authorization", "proxy-authenticate"}


class RuleError(ValueError):
    pass


class Rule:
    def __init__(self, spec: dict):
        if not isinstance(spec, dict):
            raise RuleError("a rule must be an object")
        self.spec = spec
        self.match = spec.get("match") or {}
        if not isinstance(self.match, dict):
            raise RuleError("match must be an object")
        unknown = set(self.match) - {"target", "action", "path_prefix", "method", "header",
                                     "body_contains", "host"}
        if unknown:
            raise RuleError(f"unknown match keys: {sorted(unknown)}")
        self.fault = str(spec.get("fault", ""))
        if self.fault not in FAULTS:
            raise RuleError(f"unknown fault {self.fault!r}; one of {sorted(FAULTS)}")
        self.times = spec.get("times")
        self.skip = int(spec.get("skip") or 0)
        self.delay_ms = spec.get("delay_ms")
        self.seen = 0
        self.faulted = 0

    def matches(self, req: "ParsedRequest") -> bool:
        m = self.match
        if "target" in m and req.target != m["target"]:
            return False
        if "action" in m and req.action != m["action"]:
            return False
        if "path_prefix" in m and not req.path.startswith(m["path_prefix"]):
            return False
        if "method" in m and req.method.upper() != str(m["method"]).upper():
            return False
        if "host" in m and (req.headers.get("Host") or "") != m["host"]:
            return False
        for k, v in (m.get("header") or {}).items():
            if req.headers.get(k) != v:
                return False
        if "body_contains" in m and m["body_contains"].encode() not in req.body:
            return False
        return True

    def active(self) -> bool:
        if self.seen <= self.skip:
            return False
        return self.times is None or self.faulted < int(self.times)

    def as_dict(self, index: int) -> dict:
        d = dict(self.spec)
        d.update({"index": index, "seen": self.seen, "faulted": self.faulted,
                  "remaining": None if self.times is None else max(0, int(self.times) - self.faulted)})
        return d


class FaultState:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules: List[Rule] = []
        self.requests = 0
        self.forwarded = 0
        self.faulted = 0

    def set_rules(self, specs: list, append: bool = False) -> None:
        rules = [Rule(s) for s in specs]
        with self.lock:
            if append:
                self.rules.extend(rules)
            else:
                self.rules = rules
                self.requests = self.forwarded = self.faulted = 0

    def clear(self) -> None:
        with self.lock:
            self.rules = []
            self.requests = self.forwarded = self.faulted = 0

    def decide(self, req: "ParsedRequest") -> Optional[Rule]:
        chosen = None
        with self.lock:
            self.requests += 1
            for r in self.rules:
                if r.matches(req):
                    r.seen += 1
                    if chosen is None and r.active():
                        chosen = r
                        r.faulted += 1
            if chosen is not None:
                self.faulted += 1
        return chosen

    def stats(self) -> dict:
        with self.lock:
            return {"requests": self.requests, "forwarded": self.forwarded,
                    "faulted": self.faulted,
                    "rules": [r.as_dict(i) for i, r in enumerate(self.rules)]}


class ParsedRequest:
    def __init__(self, method: str, raw_path: str, headers, body: bytes):
        self.method = method
        self.raw_path = raw_path
        self.headers = headers
        self.body = body
        u = urllib.parse.urlsplit(raw_path)
        self.path = urllib.parse.unquote(u.path)
        self.query = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        self.target = headers.get("X-Amz-Target")
        ctype = (headers.get("Content-Type") or "").lower()
        self.content_type = ctype
        action = None
        if self.target:
            action = self.target.rsplit(".", 1)[-1]
        elif "Action" in self.query:
            action = self.query["Action"][0]
        elif "x-www-form-urlencoded" in ctype and body:
            try:
                form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
                if "Action" in form:
                    action = form["Action"][0]
            except Exception:
                pass
        self.action = action

    def protocol(self) -> str:
        if self.target or self.content_type.startswith("application/x-amz-json"):
            return "json"
        if "Action" in self.query or ("x-www-form-urlencoded" in self.content_type and self.action):
            return "query"
        return "rest-xml"


def _xml_escape(s: str) -> str:
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


# (json __type, query Code, rest-xml Code, status json/query, status rest-xml, message, query Type)
_FAULT_SHAPES = {
    "throttle": ("ThrottlingException", "Throttling", "SlowDown", 400, 503,
                 "Rate exceeded", "Sender"),
    "503": ("ServiceUnavailableException", "ServiceUnavailable", "ServiceUnavailable", 503, 503,
            "Service is unavailable. Please try again.", "Receiver"),
    "500": ("InternalFailure", "InternalFailure", "InternalError", 500, 500,
            "We encountered an internal error. Please try again.", "Receiver"),
    "error": ("ValidationException", "ValidationError", "InvalidRequest", 400, 400,
              "Injected error", "Sender"),
}


def error_response(rule: Rule, req: ParsedRequest) -> Tuple[int, List[Tuple[str, str]], bytes]:
    spec = rule.spec
    jcode, qcode, xcode, status_jq, status_x, msg, qtype = _FAULT_SHAPES[rule.fault]
    proto = spec.get("protocol") or req.protocol()
    if rule.fault == "throttle" and proto == "rest-xml":
        msg = "Please reduce your request rate."
    msg = spec.get("message", msg)
    request_id = str(uuid.uuid4())
    if proto == "json":
        code = spec.get("code", jcode)
        status = int(spec.get("status", status_jq))
        ctype = req.content_type if req.content_type.startswith("application/x-amz-json") \
            else "application/x-amz-json-1.0"
        body = json.dumps({"__type": code, "message": msg}).encode()
        headers = [("Content-Type", ctype), ("x-amzn-RequestId", request_id),
                   ("x-amzn-ErrorType", f"{code}:")]
    elif proto == "query":
        code = spec.get("code", qcode)
        status = int(spec.get("status", status_jq))
        body = ("<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message>"
                "</Error><RequestId>%s</RequestId></ErrorResponse>"
                % (qtype, _xml_escape(code), _xml_escape(msg), request_id)).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    else:
        code = spec.get("code", xcode)
        status = int(spec.get("status", status_x))
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
                "<Message>%s</Message><RequestId>%s</RequestId><HostId>%s</HostId></Error>"
                % (_xml_escape(code), _xml_escape(msg), request_id[:16].upper(), request_id)).encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id[:16].upper())]
    return status, headers, body


def rewrite_body(rule: Rule, body: bytes) -> bytes:
    """The "rewrite" fault: [regex, replacement] pairs over the body (as text)."""
    text = body.decode("utf-8", "surrogateescape")
    for pattern, repl in rule.spec.get("replace") or []:
        text = re.sub(pattern, repl, text, flags=re.S)
    return text.encode("utf-8", "surrogateescape")


def canned_response(rule: Rule) -> Tuple[int, List[Tuple[str, str]], bytes]:
    """The "respond" fault: an answer made up by the proxy."""
    spec = rule.spec
    if "body_b64" in spec:
        body = base64.b64decode(spec["body_b64"])
    else:
        body = str(spec.get("body", "")).encode() * int(spec.get("repeat") or 1)
    headers = [(str(k), str(v)) for k, v in (spec.get("headers") or {}).items()]
    if spec.get("gzip"):
        body = gzip.compress(body, compresslevel=9)
        headers.append(("Content-Encoding", "gzip"))
    return int(spec.get("status", 200)), headers, body


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, addr, upstream: str, verbose: bool = False):
        u = urllib.parse.urlsplit(upstream)
        if u.scheme != "http" or not u.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream!r}")
        self.upstream_host = u.hostname
        self.upstream_port = u.port or 80
        self.state = FaultState()
        self.verbose = verbose
        self.conns = set()
        self.conns_lock = threading.Lock()
        super().__init__(addr, Handler)

    def process_request_thread(self, request, client_address):
        with self.conns_lock:
            self.conns.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.conns_lock:
                self.conns.discard(request)

    def close_all_connections(self) -> None:
        with self.conns_lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dwops-faultproxy/1"
    timeout = 300  # idle keep-alive connections are closed after this
    server: ProxyServer

    def setup(self):
        super().setup()
        self.upstream: Optional[http.client.HTTPConnection] = None

    def finish(self):
        try:
            super().finish()
        finally:
            if self.upstream is not None:
                self.upstream.close()

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("faultproxy: " + (fmt % args) + "\n")

    # every method goes through _handle
    def __getattr__(self, name):
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    # -- request body ------------------------------------------------------
    def _read_body(self) -> Tuple[bytes, bool]:
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            parts = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("EOF in chunked body")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)  # CRLF after chunk
            return b"".join(parts), True
        length = self.headers.get("Content-Length")
        if length:
            n = int(length)
            data = self.rfile.read(n) if n > 0 else b""
            if len(data) != n:
                raise ConnectionError("short request body")
            return data, False
        return b"", False

    # -- main --------------------------------------------------------------
    def _handle(self):
        try:
            body, chunked = self._read_body()
        except (ConnectionError, ValueError, OSError):
            self.close_connection = True
            return
        raw_path = self.path
        if raw_path == CONTROL or raw_path.startswith(CONTROL + "/") or raw_path.startswith(CONTROL + "?"):
            return self._control(body)
        req = ParsedRequest(self.command, raw_path, self.headers, body)
        rule = self.server.state.decide(req)
        if rule is not None:
            if rule.delay_ms:
                time.sleep(float(rule.delay_ms) / 1000.0)
            if rule.fault == "slow":
                if not rule.delay_ms:
                    time.sleep(2.0)
            elif rule.fault == "drop":
                self.log_message("drop %s %s", self.command, raw_path)
                self._drop()
                return
            elif rule.fault == "respond":
                status, headers, rbody = canned_response(rule)
                self.log_message("respond %d (%d bytes) %s %s", status, len(rbody),
                                 self.command, raw_path)
                self._reply(status, headers, rbody)
                return
            elif rule.fault not in ("drop_response", "rewrite"):
                status, headers, ebody = error_response(rule, req)
                self.log_message("fault %s -> %d %s %s", rule.fault, status, self.command, raw_path)
                self._reply(status, headers, ebody)
                return
        try:
            status, reason, headers, rbody = self._forward(body, chunked)
        except Exception as e:  # upstream unreachable
            self._reply(502, [("Content-Type", "text/plain")], f"faultproxy: upstream error: {e}\n".encode())
            return
        with self.server.state.lock:
            self.server.state.forwarded += 1
        if rule is not None and rule.fault == "rewrite":
            rbody = rewrite_body(rule, rbody)
            headers = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
            self.log_message("rewrite %s %s", self.command, raw_path)
        if rule is not None and rule.fault == "drop_response":
            self.log_message("drop_response %s %s", self.command, raw_path)
            self._drop()
            return
        self._reply(status, headers, rbody, reason=reason)

    def _drop(self):
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _forward(self, body: bytes, chunked: bool):
        last_exc: Optional[Exception] = None
        for attempt in range(2):
            fresh = self.upstream is None
            if fresh:
                self.upstream = http.client.HTTPConnection(
                    self.server.upstream_host, self.server.upstream_port, timeout=300)
            conn = self.upstream
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                has_host = False
                for k, v in self.headers.items():
                    lk = k.lower()
                    if lk in HOP_BY_HOP:
                        continue
                    if lk == "host":
                        has_host = True
                    conn.putheader(k, v)
                if not has_host:
                    conn.putheader("Host", f"{self.server.upstream_host}:{self.server.upstream_port}")
                if chunked:
                    conn.endheaders(body, encode_chunked=True)
                elif body or self.headers.get("Content-Length") is not None:
                    conn.endheaders(body)
                else:
                    conn.endheaders()
                resp = conn.getresponse()
                data = resp.read()
                headers = resp.getheaders()
                if resp.will_close:
                    conn.close()
                    self.upstream = None
                return resp.status, resp.reason, headers, data
            except (http.client.HTTPException, OSError) as e:
                last_exc = e
                try:
                    conn.close()
                except Exception:
                    pass
                self.upstream = None
                if fresh:
                    break  # a fresh connection failing is not a stale keep-alive
        raise last_exc  # type: ignore[misc]

    def _reply(self, status: int, headers, body: bytes, reason: Optional[str] = None):
        try:
            self.send_response_only(status, reason)
            no_body = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
            have_len = False
            for k, v in headers:
                lk = k.lower()
                if lk in HOP_BY_HOP or lk == "transfer-encoding":
                    continue
                if lk == "content-length":
                    if self.command == "HEAD":
                        have_len = True
                        self.send_header(k, v)
                    continue
                self.send_header(k, v)
            if not no_body:
                self.send_header("Content-Length", str(len(body)))
            elif self.command == "HEAD" and not have_len:
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close" if self.close_connection else "keep-alive")
            self.end_headers()
            if not no_body and body:
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    # -- control endpoint --------------------------------------------------
    def _control(self, body: bytes):
        state = self.server.state
        path = urllib.parse.urlsplit(self.path).path.rstrip("/")
        try:
            if self.command == "GET" and path in (CONTROL, CONTROL + "/stats"):
                return self._json(200, state.stats())
            if self.command == "DELETE" and path in (CONTROL, CONTROL + "/rules"):
                state.clear()
                return self._json(200, {"ok": True})
            if self.command in ("POST", "PUT") and path in (CONTROL, CONTROL + "/rules"):
                doc = json.loads(body.decode() or "{}")
                if isinstance(doc, list):
                    doc = {"rules": doc}
                elif isinstance(doc, dict) and "rules" not in doc and "fault" in doc:
                    doc = {"rules": [doc], "append": True}
                rules = doc.get("rules", [])
                if not isinstance(rules, list):
                    raise RuleError("rules must be a list")
                state.set_rules(rules, append=bool(doc.get("append")))
                return self._json(200, {"ok": True, "rules": len(state.rules)})
            return self._json(404, {"ok": False, "error": f"no control route {self.command} {path}"})
        except (ValueError, RuleError) as e:
            return self._json(400, {"ok": False, "error": str(e)})

    def _json(self, status: int, doc):
        self._reply(status, [("Content-Type", "application/json")], json.dumps(doc).encode())


# --------------------------------------------------------------------------
# module API
# --------------------------------------------------------------------------

def start_proxy(upstream_url: str, host: str = "127.0.0.1", port: int = 0,
                verbose: bool = False) -> Tuple[str, Callable[[], None]]:
    """Start the proxy in background threads. Returns (url, stop_fn)."""
    srv = ProxyServer((host, port), upstream_url, verbose=verbose)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                         name="faultproxy", daemon=True)
    t.start()
    url = f"http://{host}:{srv.server_address[1]}"
    stopped = threading.Event()

    def stop():
        if stopped.is_set():
            return
        stopped.set()
        srv.shutdown()
        srv.close_all_connections()
        srv.server_close()
        t.join(timeout=5)

    stop.server = srv  # type: ignore[attr-defined]
    return url, stop


class FaultClient:
    """Talks to a proxy's control endpoint."""

    def __init__(self, proxy_url: str):
        self.url = proxy_url.rstrip("/")

    def _call(self, method: str, path: str, doc=None):
        data = None if doc is None else json.dumps(doc).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read().decode())
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"faultproxy control {method} {path}: {e.code} {e.read().decode()}")

    def set_rules(self, rules: list) -> dict:
        return self._call("POST", CONTROL, {"rules": rules})

    def add_rule(self, rule: Optional[dict] = None, **kw) -> dict:
        r = dict(rule or {})
        r.update(kw)
        return self._call("POST", CONTROL, {"rules": [r], "append": True})

    def clear(self) -> dict:
        return self._call("DELETE", CONTROL)

    def stats(self) -> dict:
        return self._call("GET", CONTROL + "/stats")


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(description="fault-injecting HTTP proxy (see module doc)")
    ap.add_argument("upstream", help="upstream base URL, e.g. http://127.0.0.1:5000")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--rules", help="initial rules: JSON list or @file")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    url, stop = start_proxy(args.upstream, args.host, args.port, args.verbose)
    if args.rules:
        text = open(args.rules[1:]).read() if args.rules.startswith("@") else args.rules
        doc = json.loads(text)
        stop.server.state.set_rules(doc["rules"] if isinstance(doc, dict) else doc)  # type: ignore
    print(url, flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
