"""pytest fixtures for the dwops test bench.

Fixtures
  bench        (session)  starts moto + MariaDB + sshd once (tests/bench/services.py),
                          exports the test AWS/bench environment into os.environ
                          (inherited by operator subprocesses); -> services.BenchInfo
  moto         (function) resets moto state; -> .url, .client(service), .resource(service)
  secrets      (function) list: strings appended here must never appear in an
                          operator's stdout/stderr (checked by run_op)
  run_op       (function) run_op(operator, action=None, request=None, env=None,
                          stdin=None, args=(), timeout=120) -> OpResult
                          (.code, .result, .stdout, .stderr, .ok, .error, .data)
  fault_proxy  (function) fault-injecting proxy in front of the bench moto (rules
                          cleared before/after each test); -> .url, .set_rules(),
                          .add_rule(), .clear(), .stats(), .client(service), .env
  extra_moto   (function) a standalone moto server of its own; -> .url, .client()
  mysql        (function) mysql(sql, database=None) -> rows (list of tuples of str)
                          via the mariadb client as root over TCP

Helpers: register_secret(s) adds a secret for the whole session; REPO, BIN.
Environment exported by `bench`: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL, AWS_EC2_METADATA_DISABLED,
AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, DW_RETRY_BASE_MS=20, NO_PROXY, and
DW_BENCH_* (see services.BenchInfo.env); AWS_PROFILE, AWS_SESSION_TOKEN,
AWS_ENDPOINT_URL_<SERVICE> and similar are removed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parent
BIN = REPO / "bin"

sys.path.insert(0, str(TESTS_DIR / "bench"))
import services  # noqa: E402  (tests/bench/services.py)
import faultproxy  # noqa: E402  (tests/bench/faultproxy.py)

TEST_AWS_ACCESS_KEY_ID = services.TEST_AWS_ACCESS_KEY_ID
TEST_AWS_SECRET_ACCESS_KEY = services.TEST_AWS_SECRET_ACCESS_KEY
TEST_AWS_REGION = services.TEST_AWS_REGION
RETRY_BASE_MS = "20"

# Secrets that must never show up in an operator's output (session-wide).
_SESSION_SECRETS: List[str] = [TEST_AWS_SECRET_ACCESS_KEY]


def register_secret(value: str) -> None:
    """Register a string that no operator may ever print (whole session)."""
    if value and value not in _SESSION_SECRETS:
        _SESSION_SECRETS.append(value)


_UNSET_VARS = [
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_CA_BUNDLE", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_STS_REGIONAL_ENDPOINTS",
    "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
    "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy",
]


def _bench_environment(info: "services.BenchInfo") -> Dict[str, Optional[str]]:
    """Variables to set (str) or remove (None) for the test session."""
    env: Dict[str, Optional[str]] = {k: None for k in _UNSET_VARS}
    for k in os.environ:
        if k.startswith("AWS_ENDPOINT_URL_"):
            env[k] = None
    env.update(info.aws_env())
    env.update(info.env())
    env.update({
        "AWS_CONFIG_FILE": os.path.join(info.bench_dir, "aws-config-none"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(info.bench_dir, "aws-credentials-none"),
        "DW_RETRY_BASE_MS": RETRY_BASE_MS,
        "NO_PROXY": "127.0.0.1,localhost,::1",
        "no_proxy": "127.0.0.1,localhost,::1",
    })
    return env


def _boto3_session(region_name: str = TEST_AWS_REGION):
    import boto3
    return boto3.session.Session(aws_access_key_id=TEST_AWS_ACCESS_KEY_ID,
                                 aws_secret_access_key=TEST_AWS_SECRET_ACCESS_KEY,
                                 region_name=region_name)


def _boto3_client(service: str, endpoint_url: str, region_name: str = TEST_AWS_REGION, **kw):
    return _boto3_session(region_name).client(service, endpoint_url=endpoint_url, **kw)


def _boto3_resource(service: str, endpoint_url: str, region_name: str = TEST_AWS_REGION, **kw):
    return _boto3_session(region_name).resource(service, endpoint_url=endpoint_url, **kw)


# --------------------------------------------------------------------------
# bench / moto
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def bench():
    """All bench services, started once per session."""
    try:
        info = services.start_all()
    except Exception as e:
        pytest.fail(f"test bench did not start (run scripts/setup.sh?): {e}", pytrace=False)
    register_secret(info.mysql_root_password)
    try:
        # the private key's base64 body lines
        for line in Path(info.ssh_private_key).read_text().splitlines():
            if line and not line.startswith("-----"):
                register_secret(line)
    except OSError:
        pass
    saved = dict(os.environ)
    for k, v in _bench_environment(info).items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield info
    finally:
        os.environ.clear()
        os.environ.update(saved)
        services.stop_all()


class MotoHandle:
    def __init__(self, url: str):
        self.url = url
        self.region = TEST_AWS_REGION

    def reset(self) -> None:
        import urllib.request
        req = urllib.request.Request(self.url + "/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()

    def client(self, service: str, **kw):
        """boto3 client for `service` against this moto with the test credentials."""
        return _boto3_client(service, self.url, **kw)

    def resource(self, service: str, **kw):
        return _boto3_resource(service, self.url, **kw)

    @property
    def env(self) -> Dict[str, str]:
        return services.test_aws_env(self.url)

    def __repr__(self):
        return f"MotoHandle({self.url})"


@pytest.fixture
def moto(bench) -> MotoHandle:
    """The session moto, reset to an empty state for this test."""
    h = MotoHandle(bench.moto_url)
    h.reset()
    return h


@pytest.fixture
def extra_moto(bench):
    """A standalone moto server (own process and port) for this test only."""
    m = services.start_moto()
    try:
        yield MotoHandle(m.url)
    finally:
        m.stop()


# --------------------------------------------------------------------------
# operators
# --------------------------------------------------------------------------

@pytest.fixture
def secrets() -> List[str]:
    """Append strings that the operators run in this test must never print."""
    return []


class OpResult:
    def __init__(self, argv, request, code, stdout, stderr):
        self.argv = argv
        self.request = request
        self.code = code
        self.stdout = stdout
        self.stderr = stderr
        self.result = _parse_last_line(stdout)

    @property
    def ok(self) -> Optional[bool]:
        return self.result.get("ok") if isinstance(self.result, dict) else None

    @property
    def error(self) -> Optional[dict]:
        return self.result.get("error") if isinstance(self.result, dict) else None

    @property
    def data(self) -> Any:
        """The "result" member of the parsed result line."""
        return self.result.get("result") if isinstance(self.result, dict) else None

    def __repr__(self):
        err = self.stderr[-2000:]
        return (f"OpResult(argv={self.argv!r}, code={self.code}, result={self.result!r},\n"
                f"  stdout tail={self.stdout[-1000:]!r},\n  stderr tail={err!r})")


def _parse_last_line(stdout: str):
    lines = [l for l in stdout.splitlines() if l.strip()]
    if not lines:
        return None
    try:
        return json.loads(lines[-1])
    except ValueError:
        return None


def _mask(s: str) -> str:
    return (s[:4] + "…" if len(s) > 8 else "…") + f"({len(s)} chars)"


def assert_no_secrets(text: str, where: str, extra: List[str] = ()) -> None:
    for s in list(_SESSION_SECRETS) + list(extra):
        if s and len(s) >= 4 and s in text:
            lines = [l.replace(s, "***SECRET***") for l in text.splitlines() if s in l]
            pytest.fail(f"secret {_mask(s)} leaked in {where}:\n" + "\n".join(lines[:5]),
                        pytrace=False)


def operator_path(operator: str) -> Path:
    if "/" in operator:
        return Path(operator) if os.path.isabs(operator) else REPO / operator
    p = BIN / operator
    if not p.exists() and not operator.startswith("dw-"):
        p = BIN / ("dw-" + operator)
    return p


@pytest.fixture
def run_op(bench, secrets):
    """Run bin/<operator> with a JSON request on stdin; see OpResult."""

    def run(operator: str, action: Optional[str] = None, request: Any = None,
            env: Optional[Dict[str, Optional[str]]] = None, stdin: Any = None,
            args=(), timeout: float = 120, cwd: Optional[str] = None) -> OpResult:
        path = operator_path(operator)
        if not path.exists():
            pytest.fail(f"operator binary {path} is missing: build it with `make` before "
                        f"running the tests", pytrace=False)
        if not os.access(path, os.X_OK):
            pytest.fail(f"operator binary {path} is not executable", pytrace=False)

        if stdin is not None:
            data = stdin.encode() if isinstance(stdin, str) else bytes(stdin)
            req = stdin
        elif isinstance(request, (str, bytes)):
            data = request.encode() if isinstance(request, str) else request
            req = request
        elif request is not None or action is not None:
            req = dict(request or {})
            if action is not None:
                req.setdefault("action", action)
            data = json.dumps(req).encode()
        else:
            req, data = None, b""

        full_env = dict(os.environ)
        for k, v in (env or {}).items():
            if v is None:
                full_env.pop(k, None)
            else:
                full_env[k] = str(v)

        argv = [str(path)] + [str(a) for a in args]
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=full_env,
                                cwd=cwd or str(REPO), start_new_session=True)
        try:
            out, err = proc.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            out, err = proc.communicate()
            so, se = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
            assert_no_secrets(so, f"stdout of {operator}", secrets)
            assert_no_secrets(se, f"stderr of {operator}", secrets)
            pytest.fail(f"{operator} did not finish within {timeout}s; stderr tail:\n{se[-2000:]}",
                        pytrace=False)
        so, se = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        assert_no_secrets(so, f"stdout of {operator}", secrets)
        assert_no_secrets(se, f"stderr of {operator}", secrets)
        return OpResult(argv, req, proc.returncode, so, se)

    return run


# --------------------------------------------------------------------------
# fault proxy
# --------------------------------------------------------------------------

class FaultProxyHandle(faultproxy.FaultClient):
    def __init__(self, url: str):
        super().__init__(url)

    def client(self, service: str, **kw):
        """boto3 client that goes through the proxy."""
        return _boto3_client(service, self.url, **kw)

    @property
    def env(self) -> Dict[str, str]:
        """Env overrides pointing an operator at the proxy instead of moto."""
        return {"AWS_ENDPOINT_URL": self.url}

    def __repr__(self):
        return f"FaultProxyHandle({self.url})"


@pytest.fixture(scope="session")
def _fault_proxy_server(bench):
    url, stop = faultproxy.start_proxy(bench.moto_url)
    try:
        yield url
    finally:
        stop()


@pytest.fixture
def fault_proxy(moto, _fault_proxy_server) -> FaultProxyHandle:
    """Fault proxy in front of the (reset) session moto; rules cleared around the test."""
    h = FaultProxyHandle(_fault_proxy_server)
    h.clear()
    try:
        yield h
    finally:
        h.clear()


# --------------------------------------------------------------------------
# MariaDB helper
# --------------------------------------------------------------------------

@pytest.fixture
def mysql(bench):
    """mysql(sql, database=None) -> list of row tuples (strings), as root over TCP."""

    def run(sql: str, database: Optional[str] = None, timeout: float = 30):
        client = services._which("mariadb", "mysql")
        cmd = [client, "--no-defaults", "--protocol=TCP", f"-h{bench.mysql_host}",
               f"-P{bench.mysql_port}", "-uroot", "--batch", "--skip-column-names"]
        if database:
            cmd.append(database)
        env = dict(os.environ, MYSQL_PWD=bench.mysql_root_password)
        r = subprocess.run(cmd + ["-e", sql], capture_output=True, env=env, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError(f"mysql failed: {r.stderr.decode(errors='replace')}")
        return [tuple(line.split("\t")) for line in r.stdout.decode().splitlines()]

    return run


# Airflow fixtures (airflow, airflow_factory): see tests/airflow_support.py.
from airflow_support import airflow, airflow_factory  # noqa: E402,F401
