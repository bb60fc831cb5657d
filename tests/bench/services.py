#!/usr/bin/env python3
"""Local test-bench services for dwops: moto (server mode), MariaDB, OpenSSH;
for the benchmark also gofakes3 and ElasticMQ (GoFakeS3, ElasticMQ, started
with start_service; their programs are fetched and built by bench/run.sh).

Every service is a real program listening on a free 127.0.0.1 port, running
in a throwaway directory under ``tests/.bench/`` and in its own process group.

Module use::

    import services
    info = services.start_all()          # -> BenchInfo
    ...                                  # info.moto_url, info.mysql_port, ...
    services.stop_all()                  # kills what this process started

    moto = services.start_moto()         # an extra, standalone moto
    moto.url; moto.stop()

CLI use (services outlive the CLI; state kept in tests/.bench/state.json)::

    python tests/bench/services.py start   # prints shell exports
    python tests/bench/services.py env     # prints shell exports again
    python tests/bench/services.py stop

Processes started through the module API get a parent-death signal, so they
go away even if the Python process that started them is killed; ``stop_all``
(also registered with atexit) kills their process groups and removes their
directories.  Directories of earlier runs whose processes are all gone are
removed at the next start.
"""

from __future__ import annotations

import atexit
import dataclasses
import getpass
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[2]
BENCH_ROOT = REPO / "tests" / ".bench"
STATE_FILE = BENCH_ROOT / "state.json"
HOST = "127.0.0.1"

# Credentials every test (and every operator run by the tests) uses against
# moto.  The secret is distinctive so that leak checks can grep for it.
TEST_AWS_ACCESS_KEY_ID = "testing"
TEST_AWS_SECRET_ACCESS_KEY = "dwopsTESTsecretKEYdoNotLeak0123456789abcd"
TEST_AWS_REGION = "us-east-1"

START_TIMEOUT = float(os.environ.get("DW_BENCH_START_TIMEOUT", "60"))


class BenchError(RuntimeError):
    pass


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _pid_alive(pid: Optional[int]) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return True


def _pid_cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def _tail(path: Path, n: int = 30) -> str:
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-n:])


def _which(*names: str) -> Optional[str]:
    for n in names:
        p = shutil.which(n)
        if p:
            return p
        for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
            cand = os.path.join(d, n)
            if os.access(cand, os.X_OK):
                return cand
    return None


def _new_run_dir(prefix: str) -> Path:
    BENCH_ROOT.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=BENCH_ROOT))


def _spawn(cmd: List[str], log: Path, die_with_parent: bool, cwd: Path,
           env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
    """Start cmd in a new session/process group, output appended to log."""
    full = list(cmd)
    if die_with_parent:
        setpriv = _which("setpriv")
        if setpriv:
            full = [setpriv, "--pdeathsig", "TERM", "--"] + full
    with open(log, "ab") as logf:
        return subprocess.Popen(
            full, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
            cwd=str(cwd), env=env if env is not None else os.environ.copy(),
            start_new_session=True, close_fds=True)


def _kill_group(pid: int, proc: Optional[subprocess.Popen], timeout: float,
                first_sig: int = signal.SIGTERM) -> None:
    """Signal the process group led by pid; escalate to SIGKILL; reap."""
    def send(sig):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def group_alive() -> bool:
        try:
            os.killpg(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        # killpg(0) succeeds while zombies remain in the group; check leader.
        if proc is not None:
            return proc.poll() is None or _group_has_live_members(pid)
        return _pid_alive(pid) or _group_has_live_members(pid)

    send(first_sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None:
            proc.poll()
        if not group_alive():
            break
        time.sleep(0.05)
    else:
        send(signal.SIGKILL)
        end = time.monotonic() + 5
        while time.monotonic() < end and group_alive():
            if proc is not None:
                proc.poll()
            time.sleep(0.05)
    if proc is not None:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _group_has_live_members(pgid: int) -> bool:
    try:
        entries = os.listdir("/proc")
    except OSError:
        return False
    for e in entries:
        if not e.isdigit():
            continue
        try:
            with open(f"/proc/{e}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # rest: state ppid pgrp ...
        if len(rest) > 2 and rest[2] == str(pgid) and rest[0] != "Z":
            return True
    return False


def _http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return 200 <= r.status < 500
    except urllib.error.HTTPError as e:
        return e.code < 500
    except Exception:
        return False


# --------------------------------------------------------------------------
# services
# --------------------------------------------------------------------------

class Service:
    """One started program (process group leader) plus its directories."""

    name = "service"
    stop_timeout = 5.0
    stop_signal = signal.SIGTERM

    def __init__(self, run_dir: Path, die_with_parent: bool = True):
        self.run_dir = Path(run_dir)
        self.die_with_parent = die_with_parent
        self.proc: Optional[subprocess.Popen] = None
        self.pid: Optional[int] = None
        self.extra_dirs: List[str] = []   # removed on stop (e.g. short socket dirs)
        self.own_run_dir = False          # remove run_dir on stop
        self.log = self.run_dir / f"{self.name}.log"
        self._stopped = False

    # -- lifecycle ---------------------------------------------------------
    def launch(self) -> None:
        raise NotImplementedError

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        raise NotImplementedError

    def start(self, timeout: float = START_TIMEOUT):
        try:
            self.launch()
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return _pid_alive(self.pid)

    def _check_alive(self) -> None:
        if not self.alive():
            raise BenchError(f"{self.name} exited during startup; log {self.log}:\n"
                             f"{_tail(self.log)}")

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.pid:
            _kill_group(self.pid, self.proc, self.stop_timeout, self.stop_signal)
        for d in self.extra_dirs:
            shutil.rmtree(d, ignore_errors=True)
        if self.own_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        _forget(self)

    def state(self) -> dict:
        return {"name": self.name, "pid": self.pid, "run_dir": str(self.run_dir),
                "extra_dirs": self.extra_dirs, "own_run_dir": self.own_run_dir,
                "exe_hint": self.exe_hint()}

    def exe_hint(self) -> str:
        return ""


class MotoServer(Service):
    name = "moto"
    stop_timeout = 3.0

    def __init__(self, run_dir: Path, port: Optional[int] = None, die_with_parent: bool = True):
        super().__init__(run_dir, die_with_parent)
        self.port = port or free_port()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def exe_hint(self) -> str:
        return "moto"

    @staticmethod
    def command() -> List[str]:
        venv_bin = REPO / ".venv" / "bin" / "moto_server"
        if venv_bin.exists():
            return [str(venv_bin)]
        here = Path(sys.executable).parent / "moto_server"
        if here.exists():
            return [str(here)]
        found = shutil.which("moto_server")
        if found:
            return [found]
        return [sys.executable, "-m", "moto.server"]

    def launch(self) -> None:
        env = os.environ.copy()
        env.setdefault("PYTHONUNBUFFERED", "1")
        # moto itself must not try to reach the real AWS or a proxy
        for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            env.pop(k, None)
        self.proc = _spawn(self.command() + ["-H", HOST, "-p", str(self.port)],
                           self.log, self.die_with_parent, self.run_dir, env)
        self.pid = self.proc.pid

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if _http_ok(self.url + "/moto-api/"):
                return
            time.sleep(0.1)
        raise BenchError(f"moto did not answer on {self.url} within {timeout}s; log:\n{_tail(self.log)}")

    def reset(self) -> None:
        req = urllib.request.Request(self.url + "/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()


class GoFakeS3(Service):
    """gofakes3 (an in-memory S3 server in Go), for throughput: it lists a
    day's 86,400 keys in about a second where moto needs ~19 s of CPU.  It
    accepts any signature.  The executable is built by bench/run.sh."""

    name = "gofakes3"

    def __init__(self, run_dir: Path, exe: str, port: Optional[int] = None,
                 die_with_parent: bool = True):
        super().__init__(run_dir, die_with_parent)
        self.exe = str(Path(exe).resolve())
        self.port = port or free_port()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def exe_hint(self) -> str:
        return "gofakes3"

    def launch(self) -> None:
        self.proc = _spawn([self.exe, "-backend", "memory", "-host", f"{HOST}:{self.port}"],
                           self.log, self.die_with_parent, self.run_dir)
        self.pid = self.proc.pid

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if _http_ok(self.url + "/"):
                return
            time.sleep(0.1)
        raise BenchError(f"gofakes3 did not answer on {self.url} within {timeout}s; "
                         f"log:\n{_tail(self.log)}")


class ElasticMQ(Service):
    """ElasticMQ (an SQS-compatible server on the JVM), for throughput; lib
    is the folder of its jars (fetched from Maven Central by bench/run.sh).
    SQS's limits are enforced (sqs-limits = strict)."""

    name = "elasticmq"
    stop_timeout = 10.0

    def __init__(self, run_dir: Path, lib: str, port: Optional[int] = None,
                 die_with_parent: bool = True, heap: str = "1g"):
        super().__init__(run_dir, die_with_parent)
        self.lib = str(Path(lib).resolve())
        self.heap = heap
        self.port = port or free_port()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def exe_hint(self) -> str:
        return "elasticmq"

    def launch(self) -> None:
        conf = self.run_dir / f"elasticmq-{self.port}.conf"
        conf.write_text(
            'include classpath("application.conf")\n'
            f'node-address {{ protocol = http, host = "{HOST}", port = {self.port}, context-path = "" }}\n'
            f'rest-sqs {{ enabled = true, bind-port = {self.port}, bind-hostname = "{HOST}", '
            'sqs-limits = strict }\n'
            'rest-stats { enabled = false }\n')
        self.proc = _spawn(["java", f"-Xmx{self.heap}", f"-Dconfig.file={conf}", "-cp",
                            f"{self.lib}/*", "org.elasticmq.server.Main"],
                           self.log, self.die_with_parent, self.run_dir)
        self.pid = self.proc.pid

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if _http_ok(self.url + "/?Action=ListQueues"):
                return
            time.sleep(0.3)
        raise BenchError(f"ElasticMQ did not answer on {self.url} within {timeout}s; "
                         f"log:\n{_tail(self.log)}")


class MariaDB(Service):
    name = "mariadb"
    stop_timeout = 10.0

    def __init__(self, run_dir: Path, port: Optional[int] = None, die_with_parent: bool = True,
                 root_password: Optional[str] = None, extra_opts: Optional[List[str]] = None):
        super().__init__(run_dir, die_with_parent)
        # Server options after the bench's own (e.g. --ssl-cert=...); later wins.
        self.extra_opts = list(extra_opts or [])
        self.port = port or free_port()
        self.host = HOST
        self.root_password = root_password or ("dwopsTESTmysqlPW" + secrets.token_hex(8))
        self.dir = self.run_dir / "mariadb"
        self.datadir = self.dir / "data"
        self.tmpdir = self.dir / "tmp"
        sock = self.dir / "mysqld.sock"
        if len(str(sock)) > 100:  # AF_UNIX path limit is 108 bytes
            d = tempfile.mkdtemp(prefix="dwmy")
            self.extra_dirs.append(d)
            sock = Path(d) / "mysqld.sock"
        self.socket = str(sock)
        self.client = _which("mariadb", "mysql")

    def exe_hint(self) -> str:
        return "mariadbd"

    def _server_opts(self) -> List[str]:
        return [
            "--innodb-log-file-size=16M",
            "--innodb-buffer-pool-size=64M",
            "--innodb-flush-log-at-trx-commit=2",
            "--innodb-doublewrite=0",
            "--innodb-fast-shutdown=2",
            "--performance-schema=OFF",
            "--skip-name-resolve",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_general_ci",
        ]

    def launch(self) -> None:
        install = _which("mariadb-install-db", "mysql_install_db")
        server = _which("mariadbd", "mysqld")
        if not install or not server:
            raise BenchError("MariaDB server binaries not found (run scripts/setup.sh)")
        if not self.client:
            raise BenchError("mariadb client binary not found (run scripts/setup.sh)")
        self.datadir.mkdir(parents=True)
        self.tmpdir.mkdir(parents=True)
        user = getpass.getuser()
        r = subprocess.run(
            [install, "--no-defaults", f"--datadir={self.datadir}",
             "--auth-root-authentication-method=normal", f"--user={user}",
             "--skip-test-db", "--skip-name-resolve"] + self._server_opts()[:1],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            cwd=str(self.dir), timeout=120)
        (self.dir / "install.log").write_bytes(r.stdout)
        if r.returncode != 0:
            raise BenchError(f"mariadb-install-db failed ({r.returncode}):\n"
                             f"{r.stdout.decode(errors='replace')[-3000:]}")
        cmd = [server, "--no-defaults",
               f"--datadir={self.datadir}", f"--tmpdir={self.tmpdir}",
               f"--port={self.port}", f"--bind-address={HOST}",
               f"--socket={self.socket}", f"--pid-file={self.dir / 'mariadbd.pid'}",
               f"--user={user}", f"--log-error={self.log}",
               "--max-connections=300"] + self._server_opts() + self.extra_opts
        self.proc = _spawn(cmd, self.dir / "stdout.log", self.die_with_parent, self.dir)
        self.pid = self.proc.pid

    def _client(self, *args: str, password: Optional[str] = None, sql: Optional[str] = None,
                tcp: bool = False, timeout: float = 10) -> subprocess.CompletedProcess:
        cmd = [self.client, "--no-defaults", "-uroot", "--connect-timeout=2"]
        if tcp:
            cmd += ["--protocol=TCP", f"-h{self.host}", f"-P{self.port}"]
        else:
            cmd += ["--protocol=SOCKET", f"--socket={self.socket}"]
        env = os.environ.copy()
        env.pop("MYSQL_PWD", None)
        if password:
            env["MYSQL_PWD"] = password  # keeps it out of argv
        cmd += list(args)
        if sql is not None:
            cmd += ["-e", sql]
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                              env=env, timeout=timeout)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            if os.path.exists(self.socket):
                r = self._client(sql="SELECT 1")
                if r.returncode == 0:
                    break
            if time.monotonic() > deadline:
                raise BenchError(f"MariaDB not ready within {timeout}s; log:\n{_tail(self.log)}")
            time.sleep(0.05)
        pw = self.root_password.replace("\\", "\\\\").replace("'", "\\'")
        sql = ("DELETE FROM mysql.global_priv WHERE User='' "
               "OR (User='root' AND Host NOT IN ('localhost','127.0.0.1','::1'));"
               "FLUSH PRIVILEGES;"
               f"ALTER USER 'root'@'localhost' IDENTIFIED BY '{pw}';"
               f"ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '{pw}';"
               f"ALTER USER 'root'@'::1' IDENTIFIED BY '{pw}';"
               "FLUSH PRIVILEGES;")
        r = self._client(sql=sql)
        if r.returncode != 0:
            raise BenchError("setting the MariaDB root password failed: "
                             + r.stderr.decode(errors="replace"))
        r = self._client(tcp=True, password=self.root_password, sql="SELECT 1")
        if r.returncode != 0:
            raise BenchError("MariaDB root login over TCP failed: " + r.stderr.decode(errors="replace"))


class SSHD(Service):
    name = "sshd"
    stop_timeout = 3.0

    def __init__(self, run_dir: Path, port: Optional[int] = None, die_with_parent: bool = True):
        super().__init__(run_dir, die_with_parent)
        self.port = port or free_port()
        self.host = HOST
        self.user = getpass.getuser()
        self.dir = self.run_dir / "ssh"
        self.host_key = self.dir / "ssh_host_ed25519_key"
        self.client_key = self.dir / "id_ed25519"
        self.authorized_keys = self.dir / "authorized_keys"
        self.known_hosts = self.dir / "known_hosts"
        self.config = self.dir / "sshd_config"

    def exe_hint(self) -> str:
        return "sshd"

    def launch(self) -> None:
        sshd = _which("sshd")
        keygen = _which("ssh-keygen")
        if not sshd or not keygen:
            raise BenchError("OpenSSH server/ssh-keygen not found (run scripts/setup.sh)")
        self.dir.mkdir(parents=True)
        os.chmod(self.dir, 0o700)
        for path, comment in ((self.host_key, "dwops-bench-host"), (self.client_key, "dwops-bench-client")):
            subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                           check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        shutil.copyfile(str(self.client_key) + ".pub", self.authorized_keys)
        os.chmod(self.authorized_keys, 0o600)
        host_pub = Path(str(self.host_key) + ".pub").read_text().split()
        self.known_hosts.write_text(f"[{HOST}]:{self.port} {host_pub[0]} {host_pub[1]}\n")
        self.config.write_text("\n".join([
            f"ListenAddress {HOST}",
            "AddressFamily inet",
            f"HostKey {self.host_key}",
            f"PidFile {self.dir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "StrictModes no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            "UseDNS no",
            "AllowTcpForwarding yes",
            "AllowAgentForwarding no",
            "X11Forwarding no",
            "PermitTTY yes",
            "PrintMotd no",
            "MaxStartups 100:30:200",
            "MaxSessions 50",
            "LoginGraceTime 30",
            "Subsystem sftp internal-sftp",
            "LogLevel VERBOSE",
            "",
        ]))
        # privilege separation directory
        try:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        except OSError:
            pass
        r = subprocess.run([sshd, "-t", "-f", str(self.config), "-p", str(self.port)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        if r.returncode != 0:
            raise BenchError("sshd config test failed: " + r.stderr.decode(errors="replace"))
        self.proc = _spawn([sshd, "-D", "-e", "-f", str(self.config), "-p", str(self.port)],
                           self.log, self.die_with_parent, self.dir)
        self.pid = self.proc.pid

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as s:
                    s.settimeout(2)
                    if s.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise BenchError(f"sshd not ready on port {self.port} within {timeout}s; log:\n{_tail(self.log)}")


# --------------------------------------------------------------------------
# bench = the three together
# --------------------------------------------------------------------------

@dataclasses.dataclass
class BenchInfo:
    moto_url: str
    mysql_host: str
    mysql_port: int
    mysql_root_password: str
    mysql_socket: str
    ssh_host: str
    ssh_port: int
    ssh_user: str
    ssh_private_key: str
    ssh_public_key: str
    ssh_known_hosts: str
    bench_dir: str

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def __getitem__(self, key):  # dict-style access too
        return getattr(self, key)

    def env(self) -> Dict[str, str]:
        """Environment variables describing the bench (for subprocesses)."""
        return {
            "DW_BENCH_DIR": self.bench_dir,
            "DW_BENCH_MOTO_URL": self.moto_url,
            "DW_BENCH_MYSQL_HOST": self.mysql_host,
            "DW_BENCH_MYSQL_PORT": str(self.mysql_port),
            "DW_BENCH_MYSQL_ROOT_PASSWORD": self.mysql_root_password,
            "DW_BENCH_MYSQL_SOCKET": self.mysql_socket,
            "DW_BENCH_SSH_HOST": self.ssh_host,
            "DW_BENCH_SSH_PORT": str(self.ssh_port),
            "DW_BENCH_SSH_USER": self.ssh_user,
            "DW_BENCH_SSH_KEY": self.ssh_private_key,
            "DW_BENCH_SSH_KNOWN_HOSTS": self.ssh_known_hosts,
        }

    def aws_env(self) -> Dict[str, str]:
        """AWS variables pointing SDKs/operators at the bench moto."""
        return test_aws_env(self.moto_url)


def test_aws_env(endpoint_url: str) -> Dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": TEST_AWS_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": TEST_AWS_SECRET_ACCESS_KEY,
        "AWS_REGION": TEST_AWS_REGION,
        "AWS_DEFAULT_REGION": TEST_AWS_REGION,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


# Services started by this process, for stop_all()/atexit.
_LOCK = threading.Lock()
_STARTED: List[Service] = []
_RUN_DIRS: List[Path] = []


def _remember(svc: Service) -> None:
    with _LOCK:
        _STARTED.append(svc)


def _forget(svc: Service) -> None:
    with _LOCK:
        if svc in _STARTED:
            _STARTED.remove(svc)


def _write_run_file(run_dir: Path, services: List[Service], owner: Optional[int]) -> None:
    data = {"owner_pid": owner, "services": [s.state() for s in services]}
    tmp = run_dir / "run.json.tmp"
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, run_dir / "run.json")


def reap_stale() -> None:
    """Remove run dirs of earlier benches whose processes are all gone."""
    if not BENCH_ROOT.is_dir():
        return
    for d in BENCH_ROOT.iterdir():
        if not d.is_dir() or not d.name.startswith(("run-", "moto-")):
            continue
        rf = d / "run.json"
        try:
            data = json.loads(rf.read_text())
        except (OSError, ValueError):
            # no run file: only remove if old (an in-progress start writes it soon)
            try:
                if time.time() - d.stat().st_mtime > 600:
                    shutil.rmtree(d, ignore_errors=True)
            except OSError:
                pass
            continue
        pids = [s.get("pid") for s in data.get("services", [])]
        if _pid_alive(data.get("owner_pid")) or any(_pid_alive(p) for p in pids):
            continue
        for s in data.get("services", []):
            for x in s.get("extra_dirs", []):
                shutil.rmtree(x, ignore_errors=True)
        shutil.rmtree(d, ignore_errors=True)


def start_moto(base_dir: Optional[Path] = None, port: Optional[int] = None,
               die_with_parent: bool = True, timeout: float = START_TIMEOUT) -> MotoServer:
    """Start a standalone moto server (own dir, own port). Returns it; .url, .stop()."""
    own = base_dir is None
    run_dir = _new_run_dir("moto-") if own else Path(base_dir)
    last: Optional[Exception] = None
    for attempt in range(3):
        m = MotoServer(run_dir, port=port, die_with_parent=die_with_parent)
        m.own_run_dir = own
        try:
            m.launch()
            if own:
                _write_run_file(run_dir, [m], os.getpid() if die_with_parent else None)
            _remember(m)
            m.wait_ready(timeout)
            return m
        except BenchError as e:  # e.g. port taken between free_port() and bind
            last = e
            m.own_run_dir = False
            m.stop()
            if port is not None:
                break
    if own:
        shutil.rmtree(run_dir, ignore_errors=True)
    raise last  # type: ignore[misc]


def start_service(svc: Service, timeout: float = START_TIMEOUT) -> Service:
    """Start an extra service (GoFakeS3, ElasticMQ) in its run_dir; stopped by
    svc.stop() or stop_all().  Retried on a fresh port when the port was
    taken between free_port() and bind."""
    for attempt in range(3):
        try:
            _remember(svc)
            return svc.start(timeout)
        except BenchError:
            if attempt == 2 or not hasattr(svc, "port"):
                raise
            svc._stopped = False
            svc.port = free_port()


def start_all(base_dir: Optional[Path] = None, die_with_parent: bool = True,
              timeout: float = START_TIMEOUT) -> BenchInfo:
    """Start moto, MariaDB and sshd (concurrently) and return their details."""
    reap_stale()
    own = base_dir is None
    run_dir = _new_run_dir("run-") if own else Path(base_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    services: List[Service] = []
    try:
        moto = MotoServer(run_dir, die_with_parent=die_with_parent)
        db = MariaDB(run_dir, die_with_parent=die_with_parent)
        ssh = SSHD(run_dir, die_with_parent=die_with_parent)
        # launch all (moto first: its Python start-up is the slowest) ...
        for svc in (moto, db, ssh):
            svc.launch()
            services.append(svc)
            _remember(svc)
            _write_run_file(run_dir, services, os.getpid() if die_with_parent else None)
        # ... then wait for each
        for svc in (moto, db, ssh):
            svc.wait_ready(timeout)
    except BaseException:
        for svc in reversed(services):
            svc.stop()
        if own:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    if own:
        with _LOCK:
            _RUN_DIRS.append(run_dir)
    return BenchInfo(
        moto_url=moto.url,
        mysql_host=db.host, mysql_port=db.port, mysql_root_password=db.root_password,
        mysql_socket=db.socket,
        ssh_host=ssh.host, ssh_port=ssh.port, ssh_user=ssh.user,
        ssh_private_key=str(ssh.client_key), ssh_public_key=str(ssh.client_key) + ".pub",
        ssh_known_hosts=str(ssh.known_hosts),
        bench_dir=str(run_dir),
    )


def stop_all() -> None:
    """Stop every service this process started and remove their directories."""
    with _LOCK:
        svcs = list(reversed(_STARTED))
        dirs = list(_RUN_DIRS)
        _RUN_DIRS.clear()
    for s in svcs:
        try:
            s.stop()
        except Exception as e:  # keep stopping the rest
            print(f"services: stopping {s.name} failed: {e}", file=sys.stderr)
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(stop_all)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

def _stop_from_state(state: dict) -> None:
    for s in reversed(state.get("services", [])):
        pid = s.get("pid")
        if pid and _pid_alive(pid):
            hint = s.get("exe_hint") or ""
            cmdline = _pid_cmdline(pid)
            if hint and hint not in cmdline:
                print(f"services: pid {pid} is no longer {s.get('name')}; not killing it",
                      file=sys.stderr)
            else:
                _kill_group(pid, None, 10.0)
        for x in s.get("extra_dirs", []):
            shutil.rmtree(x, ignore_errors=True)
    rd = state.get("run_dir")
    if rd:
        shutil.rmtree(rd, ignore_errors=True)


def _exports(env: Dict[str, str]) -> str:
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items())


def _state_env(state: dict) -> Dict[str, str]:
    info = BenchInfo(**state["info"])
    env = info.aws_env()
    env.update(info.env())
    return env


def _load_state() -> Optional[dict]:
    try:
        return json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        return None


def main(argv: Optional[List[str]] = None) -> int:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=["start", "stop", "env", "status", "moto"],
                    help="start|stop|env|status: the CLI bench; moto: run a standalone "
                         "moto in the foreground until interrupted")
    ap.add_argument("--json", action="store_true", help="print JSON instead of shell exports")
    ap.add_argument("--port", type=int, help="port for 'moto'")
    args = ap.parse_args(argv)

    if args.command == "moto":
        m = start_moto(port=args.port)
        print(m.url, flush=True)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        while not stop.is_set() and m.alive():
            stop.wait(0.5)
        m.stop()
        return 0

    state = _load_state()
    if args.command == "start":
        if state and all(_pid_alive(s.get("pid")) for s in state.get("services", [])):
            print("services: already running", file=sys.stderr)
        else:
            if state:
                _stop_from_state(state)
            t0 = time.monotonic()
            info = start_all(die_with_parent=False)
            with _LOCK:
                svcs = list(_STARTED)
                _STARTED.clear()   # keep them running after this process exits
                _RUN_DIRS.clear()
            state = {"info": info.as_dict(), "run_dir": info.bench_dir,
                     "services": [s.state() for s in svcs]}
            BENCH_ROOT.mkdir(parents=True, exist_ok=True)
            STATE_FILE.write_text(json.dumps(state, indent=1))
            print(f"services: started in {time.monotonic() - t0:.1f}s", file=sys.stderr)
        print(json.dumps(state["info"], indent=1) if args.json else _exports(_state_env(state)))
        return 0
    if args.command == "stop":
        if not state:
            print("services: not running", file=sys.stderr)
            return 0
        _stop_from_state(state)
        STATE_FILE.unlink(missing_ok=True)
        print("services: stopped", file=sys.stderr)
        return 0
    if args.command in ("env", "status"):
        if not state:
            print("services: not running (use 'start')", file=sys.stderr)
            return 1
        alive = {s["name"]: _pid_alive(s.get("pid")) for s in state.get("services", [])}
        if args.command == "status":
            print(json.dumps({"info": state["info"], "alive": alive}, indent=1))
            return 0 if all(alive.values()) else 1
        print(json.dumps(state["info"], indent=1) if args.json else _exports(_state_env(state)))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
