"""Run the dwops DAGs under real Apache Airflow 2.x and 3.x (pytest support).

The Airflow installations are ``<repo>/.venv-airflow2`` and ``.venv-airflow3``
(scripts/setup-airflow.sh).  Airflow runs only as subprocesses of those venvs;
nothing here imports airflow into the test interpreter.

Fixtures (registered through ``pytest_plugins = ["airflow_support"]`` in
tests/conftest.py)

  airflow          (function) parametrised over AIRFLOW_MAJORS = (2, 3): every
                   test using it runs once per major version; narrow it with
                   ``@pytest.mark.parametrize("airflow", [3], indirect=True)``.
                   -> AirflowEnv for <repo>/airflow/dags
  airflow_factory  (session)  airflow_factory(major, dags_folder=None) -> AirflowEnv
                   (cached per (major, folder); ``dags_folder`` may be a list of
                   files/dirs, copied into one temporary folder)

AirflowEnv
  .major, .version, .venv, .dags_folder, .python, .airflow_bin
  .env(extra=None) -> dict              environment for an airflow subprocess
  .cli(*args, env=None, timeout=300) -> subprocess.CompletedProcess (text)
  .run_dag_test(dag_id, logical_date, conf=None, env=None, variables=None,
                connections=None, timeout=600) -> DagTestResult
        `airflow dags test <dag_id> <logical_date> [-c <conf json>]` in a fresh
        AIRFLOW_HOME (a copy of a migrated sqlite DB), with os.environ (the
        bench's AWS_* once `bench`/`moto` is active) + DWOPS_BIN=<repo>/bin +
        AIRFLOW_VAR_<NAME> for `variables` + AIRFLOW_CONN_<ID> for
        `connections` (dicts are JSON-encoded) + `env` (None removes a name).
  .list_import_errors() -> {file path: error text}
  .dagbag_report() -> dict (import_errors, dags{dag_id: {...}}, files{path:
        {duration, dag_ids, top_level_calls}}) -- see _DAGBAG_SNIPPET

DagTestResult
  .code, .stdout, .stderr, .output (stdout+stderr), .logs (task log files,
  concatenated), .text (output + logs), .dag_run_state, .run_id,
  .states {task_id: state} (mapped: "task_id[i]"), .xcom {task_id: return
  value as stored}, .results {task_id: parsed JSON result (dict) or None},
  .ok (exit 0 and the run succeeded), .state(task_id)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parent
DAGS_DIR = REPO / "airflow" / "dags"
BIN = REPO / "bin"
AIRFLOW_MAJORS = (2, 3)

_RESULT_MARK = "@@DWOPS-AIRFLOW-JSON@@"


def venv_path(major: int) -> Path:
    return REPO / f".venv-airflow{major}"


def airflow_available(major: int) -> bool:
    v = venv_path(major)
    return (v / "bin" / "python").exists() and (v / "bin" / "airflow").exists()


def dag_files(folder: Path = DAGS_DIR) -> List[Path]:
    """The Python files of a DAGs folder (recursively, sorted)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*.py")
                  if "__pycache__" not in p.parts and not p.name.startswith("."))


# --------------------------------------------------------------------------
# snippets run inside the Airflow venvs
# --------------------------------------------------------------------------

_STATES_SNIPPET = r'''
import json, sys
dag_id = sys.argv[1]
import airflow
from airflow.utils.session import create_session
from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance
major = int(airflow.__version__.split(".")[0])
try:
    from airflow.models.xcom import XComModel as X  # Airflow 3
except ImportError:
    from airflow.models.xcom import XCom as X  # Airflow 2
out = {"runs": []}
with create_session() as s:
    for run in s.query(DagRun).filter(DagRun.dag_id == dag_id).all():
        r = {"run_id": run.run_id, "state": str(run.state.value if hasattr(run.state, "value") else run.state),
             "tasks": {}, "xcom": {}}
        for ti in s.query(TaskInstance).filter(TaskInstance.dag_id == dag_id,
                                               TaskInstance.run_id == run.run_id).all():
            key = ti.task_id if ti.map_index is None or ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            st = ti.state.value if hasattr(ti.state, "value") else ti.state
            r["tasks"][key] = {"state": st, "try_number": ti.try_number}
        for x in s.query(X).filter(X.dag_id == dag_id, X.run_id == run.run_id,
                                   X.key == "return_value").all():
            key = x.task_id if x.map_index is None or x.map_index < 0 else f"{x.task_id}[{x.map_index}]"
            try:
                # Airflow 2 deserialises on load (orm reconstructor); 3 stores JSON
                val = x.value if major == 2 else X.deserialize_value(x)
            except Exception as e:
                val = {"__undecodable__": repr(e)}
            r["xcom"][key] = val
        out["runs"].append(r)
print(MARK + json.dumps(out, default=str))
'''

_DAGBAG_SNIPPET = r'''
import json, os, socket, subprocess, sys, time
folder = sys.argv[1]
calls = {}
current = [None]

folder_real = os.path.realpath(folder) + os.sep

def caused_by_dag_code():
    # Walk outwards from the call: a frame of a file in the DAGs folder means
    # DAG code asked for it; an import-machinery frame first means it is a side
    # effect of importing some library, not the DAG's own top-level work.
    f = sys._getframe(2)
    while f is not None:
        fn = f.f_code.co_filename
        if fn.startswith("<frozen importlib"):
            return False
        if os.path.realpath(fn).startswith(folder_real):
            return True
        f = f.f_back
    return False

def record(what):
    if current[0] is not None and caused_by_dag_code():
        calls.setdefault(current[0], []).append(what)

_connect = socket.socket.connect
def connect(self, address):
    record("socket.connect %r" % (address,))
    return _connect(self, address)
socket.socket.connect = connect
_gai = socket.getaddrinfo
def getaddrinfo(host, *a, **k):
    record("socket.getaddrinfo %r" % (host,))
    return _gai(host, *a, **k)
socket.getaddrinfo = getaddrinfo
_popen_init = subprocess.Popen.__init__
def popen_init(self, args, *a, **k):
    record("subprocess %r" % (args,))
    return _popen_init(self, args, *a, **k)
subprocess.Popen.__init__ = popen_init

def wrap_classmethod(cls, name, label):
    orig = getattr(cls, name)
    def wrapper(*a, **k):
        record(label + " %r" % (a[:1],))
        return orig(*a, **k)
    setattr(cls, name, staticmethod(wrapper))

import airflow
major = int(airflow.__version__.split(".")[0])
for modname, clsname, meth, label in (
        ("airflow.models.variable", "Variable", "get", "Variable.get"),
        ("airflow.sdk", "Variable", "get", "Variable.get"),
        ("airflow.hooks.base", "BaseHook", "get_connection", "BaseHook.get_connection"),
        ("airflow.sdk", "BaseHook", "get_connection", "BaseHook.get_connection")):
    try:
        mod = __import__(modname, fromlist=[clsname])
        wrap_classmethod(getattr(mod, clsname), meth, label)
    except Exception:
        pass

from airflow.models import DagBag
try:  # Airflow 3.x: what the DAG processor uses (puts the bundle on sys.path)
    from airflow.dag_processing.dagbag import BundleDagBag as DagBag
except ImportError:
    pass
# Airflow 2 puts the DAGs folder on sys.path (settings.prepare_syspath); so
# does Airflow 3's BundleDagBag.  Do it for both, like a real deployment.
if folder not in sys.path:
    sys.path.append(folder)
# import what DAG files commonly use first, so parse times measure the DAG code
for modname in ("pendulum", "airflow.models.dag", "airflow.sdk", "airflow.operators.bash",
                "airflow.providers.standard.operators.bash", "airflow.operators.empty",
                "airflow.providers.standard.operators.empty"):
    try:
        __import__(modname)
    except Exception:
        pass
durations = {}
_process_file = DagBag.process_file
def process_file(self, filepath, *a, **k):
    current[0] = filepath
    t0 = time.monotonic()
    try:
        return _process_file(self, filepath, *a, **k)
    finally:
        durations[filepath] = durations.get(filepath, 0.0) + time.monotonic() - t0
        current[0] = None
DagBag.process_file = process_file

import inspect
kw = {"dag_folder": folder, "safe_mode": False}
params = inspect.signature(DagBag.__init__).parameters
if "include_examples" in params:
    kw["include_examples"] = False
if "bundle_path" in params:
    kw["bundle_path"] = folder
bag = DagBag(**kw)
files = {}
for path, d in durations.items():
    files[path] = {"duration": d, "dag_ids": [], "top_level_calls": calls.get(path, [])}
dags = {}
for dag_id, dag in bag.dags.items():
    tasks = []
    for t in dag.tasks:
        tasks.append({
            "task_id": t.task_id, "operator": type(t).__name__,
            "owner": getattr(t, "owner", None), "retries": getattr(t, "retries", None),
            "skip_on_exit_code": sorted(getattr(t, "skip_on_exit_code", None) or [])
                if hasattr(t, "skip_on_exit_code") else None,
            "do_xcom_push": getattr(t, "do_xcom_push", None),
            "bash_command": getattr(t, "bash_command", None)
                if isinstance(getattr(t, "bash_command", None), str) else None,
            "is_dwops": hasattr(t, "dwops_operator"),
        })
    fileloc = getattr(dag, "fileloc", None)
    dags[dag_id] = {
        "fileloc": fileloc,
        "default_args": {k: repr(v) for k, v in (dag.default_args or {}).items()},
        "owner": getattr(dag, "owner", None),
        "catchup": getattr(dag, "catchup", None),
        "tags": sorted(getattr(dag, "tags", None) or []),
        "tasks": tasks,
    }
    if fileloc in files:
        files[fileloc]["dag_ids"].append(dag_id)
errors = {os.path.join(folder, str(k)): str(v) for k, v in bag.import_errors.items()}
print(MARK + json.dumps({"version": airflow.__version__, "import_errors": errors,
                         "dags": dags, "files": files}, default=str))
'''


def _snippet(code: str) -> str:
    return f"MARK = {_RESULT_MARK!r}\n" + code


def _marked_json(stdout: str) -> Any:
    for line in reversed(stdout.splitlines()):
        if line.startswith(_RESULT_MARK):
            return json.loads(line[len(_RESULT_MARK):])
    return None


# --------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------

def _parse_result_value(value: Any) -> Any:
    """An operator's JSON result from an XCom value (dict or JSON string)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        lines = [l for l in value.splitlines() if l.strip()]
        if lines:
            try:
                return json.loads(lines[-1])
            except ValueError:
                return None
    return None


class DagTestResult:
    def __init__(self, dag_id: str, logical_date: str, argv: List[str], code: int,
                 stdout: str, stderr: str, logs: str, runs: Optional[list]):
        self.dag_id = dag_id
        self.logical_date = logical_date
        self.argv = argv
        self.code = code
        self.stdout = stdout
        self.stderr = stderr
        self.logs = logs
        self.runs = runs or []
        run = self.runs[-1] if self.runs else {}
        self.run_id: Optional[str] = run.get("run_id")
        self.dag_run_state: Optional[str] = run.get("state")
        self.states: Dict[str, Optional[str]] = {
            k: v.get("state") for k, v in (run.get("tasks") or {}).items()}
        self.xcom: Dict[str, Any] = dict(run.get("xcom") or {})
        self.results: Dict[str, Any] = {k: _parse_result_value(v) for k, v in self.xcom.items()}

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def text(self) -> str:
        """Everything Airflow printed or logged: for leak checks."""
        return self.output + self.logs

    @property
    def ok(self) -> bool:
        return self.code == 0 and self.dag_run_state == "success"

    def state(self, task_id: str) -> Optional[str]:
        return self.states.get(task_id)

    def __repr__(self) -> str:
        return (f"DagTestResult(dag_id={self.dag_id!r}, code={self.code}, "
                f"run_state={self.dag_run_state!r}, states={self.states!r}, "
                f"results={self.results!r},\n  output tail={self.output[-4000:]!r})")


# --------------------------------------------------------------------------
# one Airflow installation + DAGs folder
# --------------------------------------------------------------------------

class AirflowEnv:
    def __init__(self, major: int, dags_folder: Path, workdir: Path, template_db: Path,
                 version: str):
        self.major = major
        self.version = version
        self.venv = venv_path(major)
        self.python = self.venv / "bin" / "python"
        self.airflow_bin = self.venv / "bin" / "airflow"
        self.dags_folder = Path(dags_folder)
        self.workdir = workdir
        self.template_db = template_db
        self._runs = 0
        self._lock = threading.Lock()
        self._report: Optional[dict] = None

    def __repr__(self) -> str:
        return f"AirflowEnv(airflow {self.version}, dags={self.dags_folder})"

    # -- environment ------------------------------------------------------
    def _new_home(self, label: str) -> Path:
        with self._lock:
            self._runs += 1
            n = self._runs
        home = self.workdir / f"{label}-{n}"
        home.mkdir(parents=True)
        shutil.copy2(self.template_db, home / "airflow.db")
        return home

    def env(self, extra: Optional[Dict[str, Optional[str]]] = None,
            home: Optional[Path] = None) -> Dict[str, str]:
        home = home or (self.workdir / "home")
        e = {k: v for k, v in os.environ.items()
             if not k.startswith("AIRFLOW") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        e.update(airflow_settings(self.major, home, self.dags_folder))
        e["DWOPS_BIN"] = str(BIN)
        e["PATH"] = f"{self.venv / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}"
        for k, v in (extra or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = str(v)
        return e

    def cli(self, *args: str, env: Optional[Dict[str, Optional[str]]] = None,
            timeout: float = 300, home: Optional[Path] = None) -> subprocess.CompletedProcess:
        home = home or self._new_home("cli")
        return subprocess.run([str(self.airflow_bin)] + [str(a) for a in args],
                              capture_output=True, text=True, timeout=timeout,
                              env=self.env(env, home), cwd=str(home), stdin=subprocess.DEVNULL)

    def python_snippet(self, code: str, *args: str, env=None, home: Optional[Path] = None,
                       timeout: float = 300) -> subprocess.CompletedProcess:
        home = home or self._new_home("py")
        return subprocess.run([str(self.python), "-c", _snippet(code)] + [str(a) for a in args],
                              capture_output=True, text=True, timeout=timeout,
                              env=self.env(env, home), cwd=str(home), stdin=subprocess.DEVNULL)

    # -- DAG runs -----------------------------------------------------------
    def run_dag_test(self, dag_id: str, logical_date: str, conf: Optional[dict] = None,
                     env: Optional[Dict[str, Optional[str]]] = None,
                     variables: Optional[Dict[str, Any]] = None,
                     connections: Optional[Dict[str, Any]] = None,
                     timeout: float = 600) -> DagTestResult:
        home = self._new_home(f"dagtest-{dag_id}")
        extra: Dict[str, Optional[str]] = {}
        for name, value in (variables or {}).items():
            extra["AIRFLOW_VAR_" + name.upper()] = (
                value if isinstance(value, str) else json.dumps(value))
        for cid, value in (connections or {}).items():
            extra["AIRFLOW_CONN_" + cid.upper()] = (
                value if isinstance(value, str) else json.dumps(value))
        extra.update(env or {})
        argv = [str(self.airflow_bin), "dags", "test", dag_id, str(logical_date)]
        if conf is not None:
            argv += ["-c", json.dumps(conf)]
        full_env = self.env(extra, home)
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                               env=full_env, cwd=str(home), stdin=subprocess.DEVNULL)
            code, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            def s(x):
                return x.decode("utf-8", "replace") if isinstance(x, bytes) else (x or "")
            pytest.fail(f"airflow {self.version} dags test {dag_id} did not finish within "
                        f"{timeout}s; output tail:\n{(s(e.stdout) + s(e.stderr))[-4000:]}",
                        pytrace=False)
        q = subprocess.run([str(self.python), "-c", _snippet(_STATES_SNIPPET), dag_id],
                           capture_output=True, text=True, timeout=300,
                           env=full_env, cwd=str(home), stdin=subprocess.DEVNULL)
        data = _marked_json(q.stdout)
        if data is None:
            raise RuntimeError(f"could not read the task states back from {home}: "
                               f"{(q.stdout + q.stderr)[-3000:]}")
        logs = []
        for f in sorted((home / "logs").rglob("*")) if (home / "logs").is_dir() else []:
            if f.is_file():
                try:
                    logs.append(f"==> {f.relative_to(home)} <==\n" + f.read_text(errors="replace"))
                except OSError:
                    pass
        return DagTestResult(dag_id, str(logical_date), argv, code, out, err,
                             "\n".join(logs), data.get("runs"))

    # -- parsing ------------------------------------------------------------
    def dagbag_report(self, refresh: bool = False) -> dict:
        """Parse the DAGs folder once with DagBag (instrumented); cached."""
        if self._report is None or refresh:
            p = self.python_snippet(_DAGBAG_SNIPPET, str(self.dags_folder))
            data = _marked_json(p.stdout)
            if data is None:
                raise RuntimeError(f"airflow {self.version}: DagBag snippet failed (exit "
                                   f"{p.returncode}):\n{(p.stdout + p.stderr)[-4000:]}")
            self._report = data
        return self._report

    def list_import_errors(self) -> Dict[str, str]:
        return dict(self.dagbag_report(refresh=True)["import_errors"])


def airflow_settings(major: int, home: Path, dags_folder: Path) -> Dict[str, str]:
    """AIRFLOW__* settings for an isolated, unit-test-ish Airflow."""
    s = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__DATABASE__LOAD_DEFAULT_CONNECTIONS": "False",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACKS": "True",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
        "AIRFLOW__WEBSERVER__SECRET_KEY": "dwops-tests-not-secret",
        "AIRFLOW__API__SECRET_KEY": "dwops-tests-not-secret",
        "AIRFLOW__API_AUTH__JWT_SECRET": "dwops-tests-not-secret-jwt-0123456789",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONWARNINGS": "ignore",
        "NO_COLOR": "1",
        "TERM": "dumb",
    }
    return s


# --------------------------------------------------------------------------
# factory (one migrated template DB per major version per session)
# --------------------------------------------------------------------------

class AirflowFactory:
    def __init__(self, root: Path):
        self.root = root
        self._templates: Dict[int, tuple] = {}
        self._envs: Dict[tuple, AirflowEnv] = {}
        self._lock = threading.Lock()

    def _template(self, major: int) -> tuple:
        if major in self._templates:
            return self._templates[major]
        if os.environ.get("DW_SKIP_AIRFLOW") == "1" and not airflow_available(major):
            pytest.skip(f"DW_SKIP_AIRFLOW=1 and no .venv-airflow{major}")
        if not airflow_available(major):
            pytest.fail(f"{venv_path(major)} is missing: run scripts/setup.sh "
                        f"(or scripts/setup-airflow.sh)", pytrace=False)
        home = self.root / f"airflow{major}-template"
        home.mkdir(parents=True, exist_ok=True)
        empty = self.root / "empty-dags"
        empty.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(airflow_settings(major, home, empty))
        airflow = venv_path(major) / "bin" / "airflow"
        p = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True,
                           env=env, cwd=str(home), timeout=600, stdin=subprocess.DEVNULL)
        if p.returncode != 0 or not (home / "airflow.db").exists():
            raise RuntimeError(f"airflow db migrate ({major}.x) failed:\n"
                               f"{(p.stdout + p.stderr)[-4000:]}")
        v = subprocess.run([str(venv_path(major) / "bin" / "python"), "-c",
                            "import airflow; print(airflow.__version__)"],
                           capture_output=True, text=True, env=env, cwd=str(home), timeout=120)
        version = v.stdout.strip().splitlines()[-1] if v.stdout.strip() else f"{major}.?"
        self._templates[major] = (home / "airflow.db", version)
        return self._templates[major]

    def __call__(self, major: int,
                 dags_folder: Union[None, str, Path, Sequence[Union[str, Path]]] = None
                 ) -> AirflowEnv:
        if dags_folder is None:
            folder_key: Any = str(DAGS_DIR)
        elif isinstance(dags_folder, (str, Path)):
            folder_key = str(Path(dags_folder).resolve())
        else:
            folder_key = tuple(str(Path(p).resolve()) for p in dags_folder)
        key = (major, folder_key)
        with self._lock:
            if key in self._envs:
                return self._envs[key]
            db, version = self._template(major)
            n = len(self._envs) + 1
            workdir = self.root / f"airflow{major}-env{n}"
            workdir.mkdir(parents=True)
            if isinstance(folder_key, tuple):
                folder = workdir / "dags"
                folder.mkdir()
                for src in folder_key:
                    src_p = Path(src)
                    if src_p.is_dir():
                        shutil.copytree(src_p, folder, dirs_exist_ok=True,
                                        ignore=shutil.ignore_patterns("__pycache__"))
                    else:
                        shutil.copy2(src_p, folder / src_p.name)
            else:
                folder = Path(folder_key)
            env = AirflowEnv(major, folder, workdir, db, version)
            self._envs[key] = env
            return env


@pytest.fixture(scope="session")
def airflow_factory(tmp_path_factory) -> AirflowFactory:
    """airflow_factory(major, dags_folder=None) -> AirflowEnv (see module docstring)."""
    return AirflowFactory(tmp_path_factory.mktemp("airflow"))


@pytest.fixture(params=list(AIRFLOW_MAJORS), ids=[f"airflow{m}" for m in AIRFLOW_MAJORS])
def airflow(request, airflow_factory) -> AirflowEnv:
    """AirflowEnv for <repo>/airflow/dags, once per Airflow major version."""
    return airflow_factory(int(request.param))
