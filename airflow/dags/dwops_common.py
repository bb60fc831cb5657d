"""Shared helpers for the dwops Airflow DAGs (works on Airflow 2.10+/2.11 and 3.x).

Put this file next to the DAG files (the DAGs folder is on ``sys.path``) and
import from it::

    from dwops_common import dwops_task, setting_template

    with DAG("dwops_snapshot", schedule="@daily", catchup=False,
             start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
             default_args={"owner": "data-platform", "retries": 2}) as dag:
        snap = dwops_task(
            "snapshot", "snapshot", "create",
            {"source": setting_template("snapshot_source"),
             "date": "{{ ds }}",
             "db_password_env": "DWOPS_DB_PASSWORD"},    # the NAME of an env var
            aws_conn_id="dwops_aws")                     # optional

What ``dwops_task(task_id, operator, action, request_template, **kw)`` builds
    A ``BashOperator`` (subclass ``DwopsOperator``) that runs
    ``$DWOPS_BIN/dw-<operator> <action>`` with the request JSON on stdin:

    * ``request_template`` is a dict (or a JSON string).  Its string values are
      Jinja templates rendered like any templated field (``{{ ds }}``,
      ``{{ dag_run.conf.get('table', '') }}``, ``{{ params.x }}`` ...); after
      rendering it is JSON-encoded and handed to the shell in the environment
      variable ``DWOPS_REQUEST`` -- never on the command line.  Values that must
      stay typed (integers, booleans) can be literal Python values in the dict;
      for typed values that come from templates set
      ``render_template_as_native_obj=True`` on the DAG.
    * Secrets are never put in the request: name the environment variable that
      holds one (``<field>_env``, see ``dw-<operator> --help``) and provide the
      variable on the workers, or through ``env={...}`` built from Airflow's own
      secret handling.
    * The operator's stdout is printed after it finishes so that the task's
      last output line is the operator's JSON result; it is pushed to XCom
      (``return_value``) as a dict when it parses as JSON (else as the string).
      Downstream: ``{{ ti.xcom_pull(task_ids='snapshot')['result']['...'] }}``.
    * Exit code 99 ("nothing to do") marks the task *skipped*
      (``skip_on_exit_code=99``); 2 (rejected), 1 (failed) and 75 (temporary
      failure) fail the task -- Airflow's ``retries`` then apply.
    * ``append_env=True``: the task sees the worker's environment, so AWS
      credentials normally come from there (instance role, AWS_* variables,
      AWS_PROFILE).  With ``aws_conn_id="<connection id>"`` they come from an
      Airflow connection instead, exported as AWS_ACCESS_KEY_ID /
      AWS_SECRET_ACCESS_KEY (connection login / password, or extras
      ``aws_access_key_id`` / ``aws_secret_access_key``), AWS_SESSION_TOKEN
      (extra ``aws_session_token``), AWS_REGION + AWS_DEFAULT_REGION (extra
      ``region_name``), AWS_ENDPOINT_URL (extra ``endpoint_url``) and
      AWS_PROFILE (extra ``profile_name``).  They are added to the process
      environment at run time only: not on a command line, not in the rendered
      template fields, and masked in the task log.
    * ``DWOPS_BIN`` (the directory holding the dw-* executables) is taken from
      the task's ``env``, else the worker's environment, else the Airflow
      Variable ``dwops_bin``, else ``/usr/local/bin``.
    * Any other keyword argument goes to ``BashOperator`` (``retries``,
      ``execution_timeout``, ``pool``, ``env`` for extra variables, ...).

Alerts (dw-alert)
    Every ``dwops_task`` gets an ``on_failure_callback`` that runs
    ``dw-alert notify`` with the task's context (DAG, task, run id, try, log
    URL) and the failed operator's JSON result (its last stdout line, kept in
    a temporary file while the task runs).  The topic is the Variable
    ``dwops_alert_topic_arn`` (env ``DWOPS_ALERT_TOPIC_ARN``); without one the
    callback only logs.  ``dwops_alert=False`` (per task, or for a whole DAG in
    ``default_args``) opts out; ``dwops_alert="retry"`` alerts on retries too
    (severity warning, subject ``<dag>.<task> will be retried...``; the last
    try's failure alerts as usual).  A callback never fails the task: a notify that fails
    is logged.  ``dwops_alert_callback`` / ``dwops_retry_callback`` can be set
    on other tasks.

Settings
    ``setting_template(name, default="")`` returns the Jinja expression
    ``{{ var.value.get('dwops_<name>', <fallback>) }}`` where ``<fallback>`` is
    the environment variable ``DWOPS_<NAME>`` (read where the DAG is parsed) or
    ``default``.  Use it in request templates: the Variable is read when the
    task runs, not when the scheduler parses the file.

    ``get_setting(name, default=None)`` does the same lookup immediately
    (Variable ``dwops_<name>``, then ``DWOPS_<NAME>``, then ``default``).  Call
    it only inside task code (callables, ``execute``): at the top level of a
    DAG file it would hit the metadata database on every parse.

Compatibility
    ``BashOperator`` is imported from ``airflow.providers.standard.operators.bash``
    (Airflow 3, package apache-airflow-providers-standard) or
    ``airflow.operators.bash`` (Airflow 2).  ``AIRFLOW_MAJOR`` holds the running
    major version.

This module is imported by every DAG: keep it cheap (no I/O at import time).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tempfile
from typing import Any, Dict, Optional

import airflow

try:  # Airflow 3 (and Airflow 2 with the standard provider installed)
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator  # type: ignore[no-redef]

AIRFLOW_MAJOR = int(airflow.__version__.split(".")[0])

VARIABLE_PREFIX = "dwops_"
ENV_PREFIX = "DWOPS_"
DEFAULT_BIN = "/usr/local/bin"
REQUEST_ENV = "DWOPS_REQUEST"
RESULT_FILE_ENV = "DWOPS_RESULT_FILE"

__all__ = [
    "AIRFLOW_MAJOR", "BashOperator", "DwopsOperator", "dwops_task",
    "setting_template", "get_setting", "parse_result", "check_run_config",
    "CONNECTION_FIELDS", "dwops_alert_callback", "dwops_retry_callback",
]

# Request fields that say where the worker's credentials are sent, or which
# credentials: never taken from a run's config (whoever may trigger a DAG
# could point them at a server of their own), only from Variables or the
# environment.
CONNECTION_FIELDS = ("endpoint_url", "endpoints", "profile", "region", "max_attempts",
                     "timeout_s")

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


# --------------------------------------------------------------------------
# settings: Airflow Variables with environment fallback
# --------------------------------------------------------------------------

def _variable_key(name: str) -> str:
    return name if name.startswith(VARIABLE_PREFIX) else VARIABLE_PREFIX + name


def _env_key(name: str) -> str:
    base = name[len(VARIABLE_PREFIX):] if name.startswith(VARIABLE_PREFIX) else name
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", base).upper()


def _jinja_literal(value: Any) -> str:
    if value is None:
        return "''"
    return json.dumps(str(value))


def setting_template(name: str, default: Any = "") -> str:
    """Jinja expression for setting `name`, evaluated when the task runs.

    Airflow Variable ``dwops_<name>``; else the environment variable
    ``DWOPS_<NAME>`` as seen where the DAG file is parsed; else `default`.
    """
    fallback = os.environ.get(_env_key(name), default)
    return "{{ var.value.get(%s, %s) }}" % (json.dumps(_variable_key(name)),
                                             _jinja_literal(fallback))


def _variable_get(key: str) -> Optional[str]:
    try:
        from airflow.sdk import Variable  # Airflow 3
        try:
            return Variable.get(key, default=None)
        except TypeError:
            return Variable.get(key, None)
    except ImportError:
        from airflow.models import Variable  # Airflow 2
        return Variable.get(key, default_var=None)


def get_setting(name: str, default: Any = None) -> Any:
    """Variable ``dwops_<name>``, else env ``DWOPS_<NAME>``, else `default`.

    Reads the metadata database / secrets backend: call it from task code
    only, never at the top level of a DAG file.
    """
    try:
        value = _variable_get(_variable_key(name))
    except Exception:  # no metadata DB / API reachable: fall back to the env
        value = None
    if value is not None:
        return value
    return os.environ.get(_env_key(name), default)


# --------------------------------------------------------------------------
# run config: an allow-list per DAG
# --------------------------------------------------------------------------

def check_run_config(conf: Any, allowed, what: str = "run config") -> Dict[str, Any]:
    """`conf` as a dict, after checking that it holds only `allowed` fields.

    Raises ValueError naming every other field (the task fails before the
    operator runs, so nothing is sent or changed).  Connection and
    credential settings (CONNECTION_FIELDS) are never allowed: they come
    from Variables or the environment.
    """
    if conf is None:
        return {}
    if not isinstance(conf, dict):
        raise ValueError(f"{what} must be a JSON object")
    bad = sorted(k for k in conf if k not in allowed or k in CONNECTION_FIELDS)
    if bad:
        conn = [k for k in bad if k in CONNECTION_FIELDS]
        raise ValueError(
            f"{what}: field(s) {', '.join(repr(k) for k in bad)} not allowed; this DAG takes "
            f"{', '.join(sorted(allowed))}" +
            (f" ({', '.join(conn)}: connection and credential settings come only from "
             "Airflow Variables or the environment)" if conn else ""))
    return dict(conf)


# --------------------------------------------------------------------------
# the operator
# --------------------------------------------------------------------------

def parse_result(output: Any) -> Any:
    """XCom value of a dwops task: the last output line, as JSON if it parses."""
    if not isinstance(output, str):
        return output
    lines = [line for line in output.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    try:
        return json.loads(last)
    except ValueError:
        return last


def _mask(value: Optional[str]) -> None:
    if not value:
        return
    for mod in ("airflow.sdk.log", "airflow.sdk.execution_time.secrets_masker",
                "airflow.utils.log.secrets_masker"):
        try:
            m = __import__(mod, fromlist=["mask_secret"])
            m.mask_secret(value)
            return
        except Exception:
            continue


def _get_connection(conn_id: str):
    try:
        from airflow.sdk import BaseHook  # Airflow 3.1+
    except ImportError:
        from airflow.hooks.base import BaseHook  # Airflow 2, 3.0
    return BaseHook.get_connection(conn_id)


def aws_env_from_connection(conn_id: str) -> Dict[str, str]:
    """AWS_* variables for an Airflow connection (see the module docstring)."""
    conn = _get_connection(conn_id)
    try:
        extra = conn.extra_dejson or {}
    except Exception:
        extra = {}
    env: Dict[str, str] = {}
    key_id = conn.login or extra.get("aws_access_key_id")
    secret = conn.password or extra.get("aws_secret_access_key")
    if key_id and secret:
        env["AWS_ACCESS_KEY_ID"] = key_id
        env["AWS_SECRET_ACCESS_KEY"] = secret
        _mask(secret)
    token = extra.get("aws_session_token")
    if token:
        env["AWS_SESSION_TOKEN"] = token
        _mask(token)
    region = extra.get("region_name") or extra.get("region")
    if region:
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = region
    endpoint = extra.get("endpoint_url")
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    profile = extra.get("profile_name")
    if profile:
        env["AWS_PROFILE"] = profile
    return env


# --------------------------------------------------------------------------
# alerts: dw-alert notify from the failure (and retry) callbacks
# --------------------------------------------------------------------------

def _log():
    import logging
    return logging.getLogger("dwops.alert")


def alert_request(context: Dict[str, Any], retry: bool = False) -> Optional[Dict[str, Any]]:
    """The dw-alert notify request for a failed task's context, or None when
    no topic is configured."""
    topic = get_setting("alert_topic_arn")
    if not topic:
        return None
    ti = context.get("ti") or context.get("task_instance")

    def attr(name: str, default: Any = None) -> Any:
        try:  # some are properties that look things up (log_url)
            return getattr(ti, name, default)
        except Exception:
            return default

    dag_id = attr("dag_id") or getattr(context.get("dag"), "dag_id", "")
    task_id = attr("task_id", "")
    run_id = attr("run_id") or context.get("run_id", "")
    try_number = attr("try_number")
    log_url = attr("log_url")
    exc = context.get("exception")
    ctx = {"dag_id": dag_id, "task_id": task_id, "run_id": run_id}
    if try_number is not None:
        ctx["try_number"] = int(try_number)
    if log_url:
        ctx["log_url"] = str(log_url)
    req: Dict[str, Any] = {"topic_arn": topic, "source": "airflow", "context": ctx}
    if log_url:
        req["link"] = str(log_url)
    result = getattr(exc, "dwops_result", None)
    if isinstance(result, dict) and result.get("ok") is False:
        req["result"] = result
        if retry:  # the result's subject says "failed": say it is retried
            err = result.get("error") if isinstance(result.get("error"), dict) else {}
            what = " ".join(str(result[k]) for k in ("operator", "action") if result.get(k))
            req["subject"] = (f"{dag_id}.{task_id} will be retried: {what or 'dwops'} failed: "
                              f"{err.get('code') or 'error'}")
    else:
        req["subject"] = f"{dag_id}.{task_id} {'will be retried' if retry else 'failed'}"
        req["text"] = str(exc)[:4000] if exc else "the task failed"
    if retry:
        req["severity"] = "warning"
    return req


def _notify(context: Dict[str, Any], retry: bool) -> None:
    try:
        req = alert_request(context, retry)
        if req is None:
            _log().warning("dwops alert: no topic (Variable dwops_alert_topic_arn): not sent")
            return
        task = context.get("task")
        env = dict(os.environ)
        conn_id = getattr(task, "aws_conn_id", None)
        if conn_id:
            env.update(aws_env_from_connection(conn_id))
        exe = os.path.join(os.environ.get("DWOPS_BIN") or str(get_setting("bin", DEFAULT_BIN)),
                           "dw-alert")
        p = subprocess.run([exe, "notify"], input=json.dumps(req, default=str), text=True,
                           capture_output=True, env=env, timeout=120)
        last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
        (_log().info if p.returncode in (0, 99) else _log().warning)(
            "dwops alert: dw-alert notify exited %s: %s", p.returncode, last)
    except Exception as e:  # a callback never fails the task
        _log().warning("dwops alert: not sent: %s", e)


def dwops_alert_callback(context: Dict[str, Any]) -> None:
    """on_failure_callback: dw-alert notify with the task's context and result."""
    _notify(context, retry=False)


def dwops_retry_callback(context: Dict[str, Any]) -> None:
    """on_retry_callback: the same, severity warning."""
    _notify(context, retry=True)


try:  # BashOperator(output_processor=...) exists from Airflow 2.10 on
    import inspect as _inspect
    _HAS_OUTPUT_PROCESSOR = "output_processor" in _inspect.signature(BashOperator.__init__).parameters
except (TypeError, ValueError):
    _HAS_OUTPUT_PROCESSOR = False


class DwopsOperator(BashOperator):
    """BashOperator running one dwops operator; build it with :func:`dwops_task`."""

    template_fields = tuple(BashOperator.template_fields) + ("request",)
    template_fields_renderers = dict(getattr(BashOperator, "template_fields_renderers", {}),
                                     request="json")
    ui_color = "#d9ecf2"

    def __init__(self, *, dwops_operator: str, dwops_action: str, request: Any,
                 aws_conn_id: Optional[str] = None, dwops_alert: Any = True,
                 **kwargs: Any) -> None:
        for what, value in (("operator", dwops_operator), ("action", dwops_action)):
            if not _NAME_RE.match(value or ""):
                raise ValueError(f"dwops {what} name {value!r} must match {_NAME_RE.pattern}")
        exe = dwops_operator if dwops_operator.startswith("dw-") else "dw-" + dwops_operator
        # stdout is captured and printed after the operator exits, so the last
        # line of the task output is the operator's JSON result even when
        # something logs on stderr late; stderr streams to the task log.
        command = (
            'bin="${DWOPS_BIN:-%s}"; '
            'out="$(printf \'%%s\' "$%s" | "$bin"/%s %s)"; rc=$?; '
            'printf \'%%s\\n\' "$out"; '
            'if [ -n "${%s:-}" ]; then printf \'%%s\\n\' "$out" > "$%s"; fi; exit "$rc"'
            % (DEFAULT_BIN, REQUEST_ENV, shlex.quote(exe), shlex.quote(dwops_action),
               RESULT_FILE_ENV, RESULT_FILE_ENV)
        )
        kwargs.setdefault("do_xcom_push", True)
        kwargs.setdefault("skip_on_exit_code", 99)
        kwargs.setdefault("append_env", True)
        if dwops_alert not in (True, False, "retry"):
            raise ValueError(f"dwops_alert must be True, False or 'retry', not {dwops_alert!r}")
        if dwops_alert:
            kwargs.setdefault("on_failure_callback", dwops_alert_callback)
        if dwops_alert == "retry":
            kwargs.setdefault("on_retry_callback", dwops_retry_callback)
        if _HAS_OUTPUT_PROCESSOR:
            kwargs.setdefault("output_processor", parse_result)
        super().__init__(bash_command=command, **kwargs)
        self.request = request
        self.aws_conn_id = aws_conn_id
        self.dwops_operator = exe
        self.dwops_action = dwops_action
        self.dwops_alert = dwops_alert
        self._result_file: Optional[str] = None

    def _request_json(self) -> str:
        req = self.request
        if isinstance(req, (bytes, bytearray)):
            req = req.decode()
        if isinstance(req, str):
            try:
                parsed = json.loads(req)
            except ValueError as e:
                raise ValueError(f"{self.task_id}: the rendered request is not JSON: {e}") from None
        else:
            parsed = req if req is not None else {}
        if not isinstance(parsed, dict):
            raise ValueError(f"{self.task_id}: the request must be a JSON object")
        return json.dumps(parsed, default=str)

    def get_env(self, context) -> dict:  # called by BashOperator.execute after rendering
        env = super().get_env(context)
        env[REQUEST_ENV] = self._request_json()
        if self.aws_conn_id:
            aws = aws_env_from_connection(self.aws_conn_id)
            if "AWS_ACCESS_KEY_ID" in aws:
                # the connection's keys replace whatever the worker had
                for k in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"):
                    env.pop(k, None)
            env.update(aws)
        if not env.get("DWOPS_BIN"):
            env["DWOPS_BIN"] = str(get_setting("bin", DEFAULT_BIN))
        if self._result_file:
            env[RESULT_FILE_ENV] = self._result_file
        return env

    def execute(self, context):
        # The result line of a failed run reaches the failure callback on
        # the exception (XCom is only pushed on success).
        fd, self._result_file = tempfile.mkstemp(prefix="dwops-result-")
        os.close(fd)
        try:
            return super().execute(context)
        except Exception as e:
            try:
                with open(self._result_file, encoding="utf-8", errors="replace") as f:
                    result = parse_result(f.read())
                if isinstance(result, dict):
                    e.dwops_result = result  # type: ignore[attr-defined]
            except OSError:
                pass
            raise
        finally:
            try:
                os.unlink(self._result_file)
            except OSError:
                pass
            self._result_file = None


def dwops_task(task_id: str, operator: str, action: str, request_template: Any = None,
               *, aws_conn_id: Optional[str] = None, **kw: Any) -> DwopsOperator:
    """A task running ``$DWOPS_BIN/dw-<operator> <action>`` (see the module docstring).

    request_template: dict (string values are Jinja templates) or JSON string.
    aws_conn_id: optional Airflow connection supplying the AWS credentials.
    kw: passed to BashOperator (retries, execution_timeout, env, pool, ...).
    """
    return DwopsOperator(task_id=task_id, dwops_operator=operator, dwops_action=action,
                         request=request_template if request_template is not None else {},
                         aws_conn_id=aws_conn_id, **kw)
