"""The Jenkins side of dwops, checked offline.

* every jenkins/**/*.yaml (Jenkins Job Builder) passes `jenkins-jobs test`
  and produces well-formed job XML; password parameters have no default,
* every jenkins/**/Jenkinsfile* parses with Groovy (Debian's groovy, to the
  CONVERSION phase: syntax only, so pipeline steps need not be known), and so
  do inline pipeline scripts in the generated job XML,
* no Jenkinsfile interpolates a secret (password/credentials parameter, a
  withCredentials or credentials() variable, or a name that looks like one)
  into a shell step with a Groovy "${...}" string: secrets must reach the
  shell through the environment ('single-quoted' scripts reading "$VAR").

* the pipelines share one Groovy file (jenkins/dwops.groovy: the owner
  lookup, running an operator and reading its result), loaded with `load`:
  it gets the same parse and secret checks, no Jenkinsfile keeps a copy of
  what it holds, every shared function a pipeline calls is defined there, and
  its functions are run (tests/tools/jenkins_shared_run.groovy stands in for
  the pipeline steps) against a real operator.

* the Launch job's request-building shell step runs with bash as Jenkins
  would (its parameters and environment block as environment variables):
  SERVERLESS ticked gives a serverless part with numeric ACUs, which
  dw-snapshot turns into a db.serverless clone against moto; unticked, none;
  what is wrong is refused by dw-snapshot (exit 2), not the Jenkinsfile.

* every job `jenkins-jobs test` renders from jenkins/ declares in JJB
  exactly the parameters of the Jenkinsfile its script-path names (names,
  kinds, defaults, choices): none when the Jenkinsfile has none.

tests/data/jenkins/ holds samples that exercise the checks themselves (good
ones must pass; tests/data/jenkins/bad/ ones must be caught).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path
from typing import Dict, List

import pytest

from test_snapshot import names  # noqa: F401  (the fixture: unique MariaDB users, databases)
from test_snapshot_aurora import cluster, make_aurora

TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parent
JENKINS_DIR = REPO / "jenkins"
SAMPLES = TESTS_DIR / "data" / "jenkins"
LINT = TESTS_DIR / "tools" / "jenkinsfile_lint.groovy"
JJB = REPO / ".venv" / "bin" / "jenkins-jobs"

# names that look like secrets even when not declared as such
SECRET_NAME_RE = re.compile(r"(?i)(passw|secret|token|api_?key|private_?key|credential)")


def _yaml_files(root: Path) -> List[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def _jenkinsfiles(root: Path) -> List[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("Jenkinsfile*") if p.is_file())


def _ids(paths, base):
    return [pytest.param(p, id=str(p.relative_to(base))) for p in paths]


def _groovy_files(root: Path) -> List[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.groovy") if p.is_file())


REPO_YAML = _yaml_files(JENKINS_DIR)
REPO_JENKINSFILES = _jenkinsfiles(JENKINS_DIR)
SHARED_GROOVY = JENKINS_DIR / "dwops.groovy"
REPO_GROOVY = _groovy_files(JENKINS_DIR)
SAMPLE_YAML = _yaml_files(SAMPLES / "jjb")
SAMPLE_JENKINSFILES = [p for p in _jenkinsfiles(SAMPLES) if "bad" not in p.parts]
YAML_PARAMS = _ids(REPO_YAML, REPO) + _ids(SAMPLE_YAML, REPO)
JENKINSFILE_PARAMS = (_ids(REPO_JENKINSFILES, REPO) + _ids(REPO_GROOVY, REPO)
                      + _ids(SAMPLE_JENKINSFILES, REPO))


# --------------------------------------------------------------------------
# tools
# --------------------------------------------------------------------------

def _java_home() -> str:
    jh = os.environ.get("JAVA_HOME")
    if jh and os.access(os.path.join(jh, "bin", "java"), os.X_OK):
        return jh
    java = shutil.which("java")
    if not java:
        pytest.fail("no java on PATH (scripts/setup.sh installs openjdk)", pytrace=False)
    return str(Path(os.path.realpath(java)).parent.parent)


def groovy_lint(files: List[Path]) -> Dict[str, dict]:
    """Run tests/tools/jenkinsfile_lint.groovy over files -> {path: report}."""
    groovy = shutil.which("groovy")
    if not groovy:
        pytest.fail("groovy is missing (scripts/setup.sh installs it)", pytrace=False)
    if not files:
        return {}
    env = dict(os.environ, JAVA_HOME=_java_home())
    p = subprocess.run([groovy, str(LINT)] + [str(f) for f in files], capture_output=True,
                       text=True, env=env, timeout=300, stdin=subprocess.DEVNULL)
    out = {}
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            rep = json.loads(line)
            out[rep["file"]] = rep
    missing = [str(f) for f in files if str(f) not in out]
    if missing:
        raise AssertionError(f"groovy lint gave no report for {missing} (exit {p.returncode}):\n"
                             f"{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return out


def secret_interpolations(report: dict) -> List[str]:
    """Shell steps whose Groovy GString interpolates a secret."""
    secrets = set(report.get("secrets") or [])
    bad = []
    for it in report.get("shell_interpolations") or []:
        hits = sorted(n for n in it["names"]
                      if n in secrets or (n not in ("params", "env") and SECRET_NAME_RE.search(n)))
        if hits:
            bad.append(f"line {it['line']}: {it['step']} \"{it['text']}\" interpolates "
                       f"{', '.join(hits)}")
    return bad


def _jjb_conf(tmp: Path) -> Path:
    conf = tmp / "jenkins_jobs.ini"
    conf.write_text("[job_builder]\nignore_cache=True\nallow_duplicates=False\n"
                    "keep_descriptions=False\n\n[jenkins]\nurl=http://127.0.0.1:9/\n"
                    "query_plugins_info=False\n")
    return conf


def jjb_test(paths: List[Path], out: Path, recursive: bool = False) -> subprocess.CompletedProcess:
    if not JJB.exists():
        pytest.fail(f"{JJB} missing: run scripts/setup.sh (tests/requirements.txt)",
                    pytrace=False)
    out.mkdir(parents=True, exist_ok=True)
    argv = [str(JJB), "--conf", str(_jjb_conf(out.parent)), "test", "--config-xml"]
    if recursive:
        argv.append("-r")
    argv += ["-o", str(out), os.pathsep.join(str(p) for p in paths)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("JJB_")}
    env["HOME"] = str(out.parent)  # no ~/.config/jenkins_jobs from the host
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env,
                          cwd=str(out.parent), stdin=subprocess.DEVNULL)


def _xml_jobs(out: Path) -> Dict[str, ET.Element]:
    jobs = {}
    for cfg in sorted(out.rglob("config.xml")):
        jobs[str(cfg.parent.relative_to(out))] = ET.parse(cfg).getroot()
    return jobs


class _AnyTagLoader:
    """PyYAML loader tolerant of JJB's custom tags (!include, !j2, ...)."""

    @staticmethod
    def load(text: str):
        import yaml

        class Loader(yaml.SafeLoader):
            pass

        def unknown(loader, tag_suffix, node):
            if isinstance(node, yaml.ScalarNode):
                return loader.construct_scalar(node)
            if isinstance(node, yaml.SequenceNode):
                return loader.construct_sequence(node)
            return loader.construct_mapping(node)

        Loader.add_multi_constructor("!", unknown)
        return yaml.load(text, Loader=Loader)


def _entries(path: Path) -> List[dict]:
    data = _AnyTagLoader.load(path.read_text()) or []
    assert isinstance(data, list), f"{path}: a JJB file is a YAML list of definitions"
    return [e for e in data if isinstance(e, dict)]


def _is_shared(path: Path) -> bool:
    """A file holding only defaults/macros/templates (no job or project)."""
    try:
        return not any(("job" in e) or ("project" in e) for e in _entries(path))
    except Exception:
        return False


# --------------------------------------------------------------------------
# session-wide runs
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def jjb_tree(tmp_path_factory):
    """`jenkins-jobs test -r` over jenkins/ and over the samples."""
    results = {}
    for name, root, files in (("repo", JENKINS_DIR, REPO_YAML),
                              ("samples", SAMPLES / "jjb", SAMPLE_YAML)):
        if not files:
            results[name] = None
            continue
        out = tmp_path_factory.mktemp(f"jjb-{name}") / "out"
        p = jjb_test([root], out, recursive=True)
        results[name] = (p, out)
    return results


@pytest.fixture(scope="session")
def lint_reports(jjb_tree, tmp_path_factory):
    """Groovy reports for every Jenkinsfile and every inline pipeline script."""
    files = list(REPO_JENKINSFILES) + list(REPO_GROOVY) + list(SAMPLE_JENKINSFILES)
    inline_dir = tmp_path_factory.mktemp("inline-pipelines")
    inline = {}
    for name, res in jjb_tree.items():
        if not res or res[0].returncode != 0:
            continue
        for job, root in _xml_jobs(res[1]).items():
            script = root.find("./definition/script")
            if script is not None and (script.text or "").strip():
                f = inline_dir / f"{name}-{job.replace('/', '_')}.Jenkinsfile"
                f.write_text(script.text)
                inline[f"{name}:{job}"] = f
                files.append(f)
    reports = groovy_lint(files)
    return reports, inline


# --------------------------------------------------------------------------
# Jenkins Job Builder
# --------------------------------------------------------------------------

@pytest.mark.skipif(not YAML_PARAMS, reason="no JJB YAML files")
@pytest.mark.parametrize("path", YAML_PARAMS)
def test_jjb_file_generates_jobs(path, jjb_tree, tmp_path):
    root_key = "samples" if SAMPLES in path.parents else "repo"
    tree_proc, tree_out = jjb_tree[root_key]
    assert tree_proc.returncode == 0, (
        f"jenkins-jobs test -r {JENKINS_DIR if root_key == 'repo' else SAMPLES / 'jjb'} "
        f"failed:\n{tree_proc.stderr[-4000:]}")

    entries = _entries(path)
    if _is_shared(path):
        return  # defaults/macros only: covered by the tree run
    # the file on its own, plus the shared (defaults/macros) files next to it
    base = JENKINS_DIR if root_key == "repo" else SAMPLES / "jjb"
    shared = [p for p in _yaml_files(base) if p != path and _is_shared(p)]
    out = tmp_path / "out"
    p = jjb_test([path] + shared, out)
    assert p.returncode == 0, f"jenkins-jobs test {path} failed:\n{p.stderr[-4000:]}"
    jobs = _xml_jobs(out)
    assert jobs, f"{path} generated no job XML:\n{p.stderr[-2000:]}"
    for e in entries:
        if "job" in e and isinstance(e["job"], dict) and "{" not in str(e["job"].get("name", "")):
            assert e["job"]["name"] in jobs, f"job {e['job']['name']} not generated: {sorted(jobs)}"
    for name, root in jobs.items():
        assert root.tag in ("project", "flow-definition", "matrix-project", "maven2-moduleset",
                            "com.cloudbees.hudson.plugins.folder.Folder",
                            "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject",
                            "jenkins.branch.OrganizationFolder"), f"{name}: root <{root.tag}>"
        # the same job is also in the tree run's output, identical
        tree_cfg = tree_out / name / "config.xml"
        assert tree_cfg.exists(), f"{name} missing from the tree run"
        # a password parameter must not carry a default value in the YAML/XML
        for pp in root.iter("hudson.model.PasswordParameterDefinition"):
            dv = pp.findtext("defaultValue") or ""
            assert dv == "", f"{name}: password parameter {pp.findtext('name')} has a default"


def test_jjb_check_catches_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("- job:\n    name: broken\n    builders:\n      - no-such-builder-xyz: {}\n")
    p = jjb_test([bad], tmp_path / "out")
    assert p.returncode != 0
    assert "no-such-builder-xyz" in p.stderr


# --------------------------------------------------------------------------
# Jenkinsfiles
# --------------------------------------------------------------------------

@pytest.mark.skipif(not JENKINSFILE_PARAMS, reason="no Jenkinsfiles")
@pytest.mark.parametrize("path", JENKINSFILE_PARAMS)
def test_jenkinsfile_parses(path, lint_reports):
    reports, _ = lint_reports
    rep = reports[str(path)]
    assert rep["ok"], f"{path} does not parse as Groovy:\n{rep['error']}"


@pytest.mark.skipif(not JENKINSFILE_PARAMS, reason="no Jenkinsfiles")
@pytest.mark.parametrize("path", JENKINSFILE_PARAMS)
def test_jenkinsfile_no_secret_interpolation(path, lint_reports):
    reports, _ = lint_reports
    rep = reports[str(path)]
    if not rep["ok"]:
        pytest.fail(f"{path} does not parse (see test_jenkinsfile_parses)")
    bad = secret_interpolations(rep)
    assert not bad, (f"{path}: secrets interpolated by Groovy into shell steps (pass them "
                     f"through the environment and use '...$VAR...' instead):\n  "
                     + "\n  ".join(bad))


def test_inline_pipeline_scripts(lint_reports):
    """Pipeline scripts written inline in JJB YAML (dsl:) parse and keep secrets out."""
    reports, inline = lint_reports
    problems = []
    for job, f in inline.items():
        rep = reports[str(f)]
        if not rep["ok"]:
            problems.append(f"{job}: does not parse: {rep['error']}")
        else:
            problems += [f"{job}: {b}" for b in secret_interpolations(rep)]
    assert not problems, "\n".join(problems)


def test_lint_catches_bad_samples():
    leaky = SAMPLES / "bad" / "Jenkinsfile.leaky"
    broken = SAMPLES / "bad" / "Jenkinsfile.syntax"
    reports = groovy_lint([leaky, broken])
    assert not reports[str(broken)]["ok"]
    assert "expecting '}'" in reports[str(broken)]["error"]
    rep = reports[str(leaky)]
    assert rep["ok"], rep
    assert set(rep["secrets"]) >= {"DB_PASSWORD", "TOKEN", "P"}
    bad = secret_interpolations(rep)
    joined = "\n".join(bad)
    # params.DB_PASSWORD, TOKEN (withCredentials string), $P, env.DB_PASSWORD
    assert len(bad) == 4, joined
    assert bad[0].endswith("interpolates DB_PASSWORD"), bad[0]  # not HOST
    assert "TOKEN" in joined and "interpolates P" in joined


def test_lint_sees_secrets_in_good_sample(lint_reports):
    """The good sample interpolates a plain parameter only; its secrets are all seen."""
    reports, inline = lint_reports
    good = reports[str(SAMPLES / "Jenkinsfile.sample")]
    assert set(good["secrets"]) == {"DB_PASSWORD", "API_TOKEN", "AWS_SECRET_ACCESS_KEY",
                                    "WH_PASSWORD"}, good
    assert good["shell_interpolations"] and not secret_interpolations(good)
    assert "samples:dwops-sample-inline" in inline, sorted(inline)
    assert reports[str(inline["samples:dwops-sample-inline"])]["secrets"] == ["API_TOKEN"]


# --------------------------------------------------------------------------
# the shared pipeline file
# --------------------------------------------------------------------------

SHARED_RUN = TESTS_DIR / "tools" / "jenkins_shared_run.groovy"
LOAD_RE = re.compile(r"""dwops\s*=\s*load\s+'jenkins/dwops\.groovy'""")


def _strip_comments(text: str) -> str:
    return re.sub(r"(?m)^\s*//.*$", "", text)


def test_shared_file_is_in_the_checks():
    assert SHARED_GROOVY in REPO_GROOVY
    assert _strip_comments(SHARED_GROOVY.read_text()).rstrip().endswith("return this"), \
        "a file loaded with `load` must end with `return this`"


@pytest.mark.skipif(not REPO_JENKINSFILES, reason="no Jenkinsfiles")
@pytest.mark.parametrize("path", _ids(REPO_JENKINSFILES, REPO))
def test_pipelines_load_the_shared_steps_instead_of_copying_them(path):
    text = _strip_comments(path.read_text())
    assert LOAD_RE.search(text), f"{path} does not load jenkins/dwops.groovy"
    # what the shared file holds is not copied here
    for copy in ("getBuildCauses", "buildOwner()", "String buildOwner", "tail -n 1",
                 "| jq . >", "| jq . |"):
        assert copy not in text, f"{path} still holds its own {copy!r}"
    assert re.search(r"(?m)^(?!.*\bmake\b).*\bbin/dw-", text) is None, \
        f"{path} runs an operator itself instead of with dwops.runOperator"
    shared = _strip_comments(SHARED_GROOVY.read_text())
    defined = set(re.findall(r"(?m)^\w+(?:\s+\w+)?\s+(\w+)\s*\(", shared))
    called = set(re.findall(r"\bdwops\.(\w+)\s*\(", text))
    assert called, f"{path} calls no shared step"
    assert called <= defined, f"{path} calls {sorted(called - defined)}, not in {SHARED_GROOVY}"
    if "DW_OWNER" in text:
        assert "buildOwner" in called, f"{path}: the owner is the user who started the build"


def _run_shared(tmp_path, calls):
    groovy = shutil.which("groovy")
    if not groovy:
        pytest.fail("groovy is missing (scripts/setup.sh installs it)", pytrace=False)
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    (ws / "bin").symlink_to(REPO / "bin")
    f = tmp_path / "calls.json"
    f.write_text(json.dumps(calls))
    env = dict(os.environ, JAVA_HOME=_java_home())
    p = subprocess.run([groovy, str(SHARED_RUN), str(SHARED_GROOVY), str(ws), str(f)],
                       capture_output=True, text=True, env=env, timeout=300,
                       stdin=subprocess.DEVNULL)
    out = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    assert len(out) == len(calls), f"exit {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return ws, out


def test_shared_steps_run_an_operator_and_keep_its_result(tmp_path):
    """runOperator runs the real operator, keeps the last stdout line as
    build/<name>-result.json, returns the exit code, and fails the build on a
    code not allowed; buildOwner is the starting user or refuses."""
    reqdir = tmp_path / "ws" / "build"
    calls = [
        {"fn": "runOperator", "args": ["dw-snapshot", "list", "build/bad.json", "bad"]},
        {"fn": "runOperator", "args": ["dw-snapshot", "list", "build/bad.json", "bad2", [0, 2]]},
        {"fn": "runOperator", "args": ["dw-fanout", "fanout", "build/help.json", "fan", [2]]},
        {"fn": "buildOwner", "args": ["it destroys the copy of the user who starts it"],
         "user": "jane.doe"},
        {"fn": "buildOwner", "args": ["it destroys the copy of the user who starts it"]},
    ]
    reqdir.mkdir(parents=True)
    (reqdir / "bad.json").write_text(json.dumps({"no_such_field": 1}))
    (reqdir / "help.json").write_text(json.dumps({"bucket": "b", "hour": "2019-06-01T15",
                                                  "queue_url": "not-a-url"}))
    ws, out = _run_shared(tmp_path, calls)

    bad, bad2, fan, owner, no_owner = out
    assert not bad["ok"] and bad["error"] == "dw-snapshot list exited 2: see the result above", bad
    res = json.loads((ws / "build" / "bad-result.json").read_text())
    assert res["ok"] is False and res["error"]["field"] == "no_such_field"
    # pretty-printed for people, and shown in the log
    assert (ws / "build" / "bad-result.json").read_text().startswith("{\n")
    assert '"no_such_field"' in bad["log"]
    assert bad2["ok"] and bad2["value"] == 2, bad2
    assert json.loads((ws / "build" / "bad2-result.json").read_text())["operator"] == "dw-snapshot"
    assert fan["ok"] and fan["value"] == 2, fan
    assert json.loads((ws / "build" / "fan-result.json").read_text())["error"]["field"] == "queue_url"
    assert owner == {"fn": "buildOwner", "ok": True, "value": "jane.doe", "log": ""}, owner
    assert not no_owner["ok"]
    assert no_owner["error"] == ("Start this job by hand: it destroys the copy of the user "
                                 "who starts it."), no_owner


# --------------------------------------------------------------------------
# the Launch job's request (jenkins/snapshot/Jenkinsfile.launch)
# --------------------------------------------------------------------------

LAUNCH = JENKINS_DIR / "snapshot" / "Jenkinsfile.launch"
# JJB's parameter kinds, by the Jenkinsfile's parameter steps
JJB_PARAM_KINDS = {"string": "hudson.model.StringParameterDefinition",
                   "text": "hudson.model.TextParameterDefinition",
                   "booleanParam": "hudson.model.BooleanParameterDefinition",
                   "choice": "hudson.model.ChoiceParameterDefinition",
                   "password": "hudson.model.PasswordParameterDefinition"}


def _param_env(param: dict) -> str:
    """A parameter's default as Jenkins hands it to a shell step."""
    if param["type"] == "booleanParam":
        return "true" if param.get("default") else "false"
    if param["type"] == "choice":
        return param["choices"][0]
    return str(param.get("default") or "")


def build_launch_request(lint_reports, tmp_path, owner="jane.doe", **params) -> dict:
    """Run the Launch stage's shell step that writes build/snapshot-launch.json,
    as Jenkins would: the parameters (their defaults, but for params) and the
    environment block as environment variables, with what the stage binds
    (DW_OWNER, the master login's user name)."""
    rep = lint_reports[0][str(LAUNCH)]
    steps = [s for s in rep["shell_steps"]
             if s["stage"] == "Launch" and "build/snapshot-launch.json" in s["script"]]
    assert len(steps) == 1, rep["shell_steps"]
    env = dict(os.environ)
    env.update(rep["environment"])
    env.update({p["name"]: _param_env(p) for p in rep["parameters"]})
    unknown = set(params) - {p["name"] for p in rep["parameters"]} - set(rep["environment"])
    assert not unknown, f"{sorted(unknown)}: neither a parameter nor in the environment block"
    env.update({k: str(v) for k, v in params.items()})
    env.update(DW_OWNER=owner, DW_MASTER_USER="admin")
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    script = tmp_path / "launch-request.sh"
    script.write_text(steps[0]["script"])
    p = subprocess.run(["bash", str(script)], cwd=str(ws), env=env, capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, f"exit {p.returncode}:\n{p.stdout}\n{p.stderr}"
    return json.loads((ws / "build" / "snapshot-launch.json").read_text())


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def test_launch_request_without_serverless(lint_reports, tmp_path):
    """Unticked, the request has no serverless part: the writer (or the
    instance) is of INSTANCE_CLASS."""
    inst = build_launch_request(lint_reports, tmp_path)
    assert inst["source_instance"] == "warehouse" and "source_cluster" not in inst
    assert inst["instance_class"] == "db.r6g.large" and "serverless" not in inst
    assert inst["ttl_days"] == 21 and inst["max_ttl_days"] == 30
    clone = build_launch_request(lint_reports, tmp_path, SOURCE_CLUSTER="warehouse-aurora",
                                 INSTANCE_CLASS="db.r6g.xlarge")
    assert clone["source_cluster"] == "warehouse-aurora" and clone["method"] == "clone"
    assert "source_instance" not in clone and "parameter_group" not in clone
    assert clone["instance_class"] == "db.r6g.xlarge" and "serverless" not in clone


def test_launch_request_with_serverless(lint_reports, tmp_path):
    """SERVERLESS ticked: the ACUs as numbers (defaults 0.5 and 8), no
    instance_class (dw-snapshot then makes a db.serverless writer), and
    seconds_until_auto_pause only when AUTO_PAUSE_S is given."""
    req = build_launch_request(lint_reports, tmp_path, SOURCE_CLUSTER="warehouse-aurora",
                               SERVERLESS="true")
    assert req["serverless"] == {"min_acu": 0.5, "max_acu": 8}, req
    assert all(_is_number(v) for v in req["serverless"].values()), req
    assert "instance_class" not in req and req["method"] == "clone"
    req = build_launch_request(lint_reports, tmp_path, SOURCE_CLUSTER="warehouse-aurora",
                               SERVERLESS="true", MIN_ACU="0", MAX_ACU="16.5",
                               AUTO_PAUSE_S="1800", METHOD="snapshot")
    assert req["serverless"] == {"min_acu": 0, "max_acu": 16.5, "seconds_until_auto_pause": 1800}
    assert all(_is_number(v) for v in req["serverless"].values()), req
    assert req["method"] == "snapshot"
    # MIN_ACU etc. are ignored when SERVERLESS is not ticked
    req = build_launch_request(lint_reports, tmp_path, SOURCE_CLUSTER="warehouse-aurora",
                               MIN_ACU="0", AUTO_PAUSE_S="1800")
    assert "serverless" not in req and req["instance_class"] == "db.r6g.large"


def test_launch_request_makes_a_serverless_clone(lint_reports, tmp_path, bench, moto, run_op,
                                                 names):
    """The request the job builds with SERVERLESS ticked, run by dw-snapshot
    against moto: a clone whose writer is db.serverless, scaling between the
    job's default ACUs."""
    rds = moto.client("rds")
    make_aurora(rds, "warehouse-aurora")
    req = build_launch_request(lint_reports, tmp_path, owner="sam",
                               SOURCE_CLUSTER="warehouse-aurora", SERVERLESS="true",
                               DATABASE=names.database(), MYSQL_USER=names.user())
    # what only the test changes: moto's endpoints are made up, the bench
    # MariaDB stands in for the writer
    req.update(endpoint_override=f"{bench.mysql_host}:{bench.mysql_port}",
               tls={"mode": "disabled"}, master={"user": "root",
                                                 "password_env": "DW_BENCH_MYSQL_ROOT_PASSWORD"},
               poll_interval_s=1, wait_timeout_s=60)
    r = run_op("dw-snapshot", "launch", req, env={"MYSQL_PASSWORD": "jenkins-param-pw-1"})
    assert r.code == 0, r
    assert r.data["instance_class"] == "db.serverless"
    c = cluster(rds, "dw-snapshot-sam")
    assert c["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 8.0}, c
    w = rds.describe_db_instances(DBInstanceIdentifier="dw-snapshot-sam")["DBInstances"][0]
    assert w["DBInstanceClass"] == "db.serverless"


@pytest.mark.parametrize("params,field,message", [
    ({"SERVERLESS": "true"}, "serverless", "serverless needs source_cluster"),
    ({"SERVERLESS": "true", "SOURCE_CLUSTER": "warehouse-aurora", "MIN_ACU": "half"},
     "serverless.min_acu", None),
    ({"SERVERLESS": "true", "SOURCE_CLUSTER": "warehouse-aurora", "MIN_ACU": "0.5",
      "AUTO_PAUSE_S": "600"}, "serverless.seconds_until_auto_pause", "needs min_acu 0"),
    ({"TTL_DAYS": "three"}, "ttl_days", None),
], ids=["serverless-without-cluster", "acu-not-a-number", "pause-needs-min-0", "ttl-not-a-number"])
def test_launch_request_refusals_are_the_operators(lint_reports, tmp_path, monkeypatch, params,
                                                   field, message):
    """The job checks nothing itself: what the engineer typed reaches
    dw-snapshot, which refuses it with exit 2 naming the field (runOperator
    then fails the build with the result shown)."""
    # the password parameter and the master login, as withCredentials binds them
    monkeypatch.setenv("MYSQL_PASSWORD", "jenkins-param-pw-1")
    monkeypatch.setenv("DW_MASTER_PASSWORD", "jenkins-master-pw-1")
    build_launch_request(lint_reports, tmp_path, **params)
    calls = [{"fn": "runOperator",
              "args": ["dw-snapshot", "launch", "build/snapshot-launch.json", "snapshot-launch"]}]
    ws, out = _run_shared(tmp_path, calls)
    assert not out[0]["ok"], out
    assert out[0]["error"] == "dw-snapshot launch exited 2: see the result above", out
    res = json.loads((ws / "build" / "snapshot-launch-result.json").read_text())
    assert res["error"]["field"] == field, res
    if message:
        assert message in res["error"]["message"], res


def test_launch_job_parameters(jjb_tree):
    """dw-snapshot-launch has the serverless parameters from its first build
    on (the agreement with its Jenkinsfile is checked for every job below)."""
    proc, out = jjb_tree["repo"]
    assert proc.returncode == 0, proc.stderr[-4000:]
    got = {g[1]: g[2] for g in jjb_job_parameters(_xml_jobs(out)["dw-snapshot-launch"])}
    assert {"SERVERLESS", "MIN_ACU", "MAX_ACU", "AUTO_PAUSE_S"} <= set(got)
    assert got["MIN_ACU"] == "0.5" and got["MAX_ACU"] == "8"


# --------------------------------------------------------------------------
# every job declares its Jenkinsfile's parameters
# --------------------------------------------------------------------------

def jjb_job_parameters(root: ET.Element) -> List[tuple]:
    """A rendered job's parameters as (kind, name, default, choices); none
    when it has no parameters property."""
    defs = root.find(".//hudson.model.ParametersDefinitionProperty/parameterDefinitions")
    got = []
    for pd in (defs if defs is not None else []):
        choices = [s.text for s in pd.iter("string")] if pd.find("choices") is not None else None
        got.append((pd.tag, pd.findtext("name"), pd.findtext("defaultValue") or "", choices))
    return got


def jenkinsfile_parameters(report: dict) -> List[tuple]:
    """A Jenkinsfile's parameters block (the lint report's) as JJB renders
    the same parameters."""
    want = []
    for p in report["parameters"]:
        dv = p.get("default")
        dv = ("true" if dv else "false") if p["type"] == "booleanParam" else str(dv or "")
        want.append((JJB_PARAM_KINDS.get(p["type"], p["type"]), p["name"],
                     "" if p["type"] == "choice" else dv, p.get("choices")))
    return want


def parameter_mismatches(jobs: Dict[str, ET.Element], reports: Dict[str, dict],
                         inline: Dict[str, Path], root: Path, tree: str = "repo") -> List[str]:
    """Each job against the pipeline it runs (its script-path under root, or
    its inline script): what differs, one entry per job."""
    wrong = []
    for name, job in sorted(jobs.items()):
        script_path = job.findtext("./definition/scriptPath")
        if script_path:
            pipeline, what = str(root / script_path), script_path
        elif f"{tree}:{name}" in inline:
            pipeline, what = str(inline[f"{tree}:{name}"]), "its inline pipeline"
        else:
            wrong.append(f"{name}: runs no pipeline (neither a script-path nor a script)")
            continue
        if pipeline not in reports:
            wrong.append(f"{name}: script-path {script_path} is not a linted Jenkinsfile")
            continue
        got, want = jjb_job_parameters(job), jenkinsfile_parameters(reports[pipeline])
        if got != want:
            wrong.append(f"{name}: JJB parameters {got}\n  are not those of {what}: {want}")
    return wrong


def test_jjb_job_parameters_are_the_jenkinsfiles(jjb_tree, lint_reports):
    """Every job `jenkins-jobs test` renders from jenkins/ declares exactly the
    parameters of the Jenkinsfile its script-path names (names, kinds,
    defaults, choices, in order), so that a new job has its form before its
    first build; a Jenkinsfile without parameters gives a job without."""
    proc, out = jjb_tree["repo"]
    assert proc.returncode == 0, proc.stderr[-4000:]
    reports, inline = lint_reports
    jobs = _xml_jobs(out)
    assert {"dw-snapshot-launch", "dw-snapshot-destroy", "dw-catalog"} <= set(jobs), sorted(jobs)
    wrong = parameter_mismatches(jobs, reports, inline, REPO)
    assert not wrong, "\n".join(wrong)


def test_parameter_check_catches_differences(tmp_path):
    """The check itself: a default, a choice or a parameter too many or too
    few is reported; no parameters on either side agree."""
    (tmp_path / "Jenkinsfile.some").write_text(
        "pipeline {\n  agent any\n  parameters {\n"
        "    string(name: 'A', defaultValue: 'x', description: 'a')\n"
        "    choice(name: 'C', choices: ['p', 'q'], description: 'c')\n"
        "    booleanParam(name: 'B', defaultValue: true, description: 'b')\n"
        "  }\n  stages { stage('S') { steps { sh 'true' } } }\n}\n")
    (tmp_path / "Jenkinsfile.none").write_text(
        "pipeline {\n  agent any\n  stages { stage('S') { steps { sh 'true' } } }\n}\n")

    def job(name, script, params):
        return (f"- job:\n    name: {name}\n    project-type: pipeline\n"
                f"    parameters: {json.dumps(params)}\n"
                f"    pipeline-scm:\n      scm:\n        - git:\n"
                f"            url: https://git.example.com/x.git\n"
                f"      script-path: {script}\n")

    same = [{"string": {"name": "A", "default": "x"}},
            {"choice": {"name": "C", "choices": ["p", "q"]}},
            {"bool": {"name": "B", "default": True}}]
    jobs = {"same": ("Jenkinsfile.some", same),
            "other-default": ("Jenkinsfile.some",
                              [{"string": {"name": "A", "default": "y"}}] + same[1:]),
            "other-choices": ("Jenkinsfile.some",
                              [same[0], {"choice": {"name": "C", "choices": ["q", "p"]}}, same[2]]),
            "one-missing": ("Jenkinsfile.some", same[:2]),
            "none": ("Jenkinsfile.none", []),
            "one-too-many": ("Jenkinsfile.none", same[:1])}
    yml = tmp_path / "jobs.yaml"
    yml.write_text("".join(job(n, s, p) for n, (s, p) in jobs.items()))
    p = jjb_test([yml], tmp_path / "out")
    assert p.returncode == 0, p.stderr[-4000:]
    reports = groovy_lint([tmp_path / "Jenkinsfile.some", tmp_path / "Jenkinsfile.none"])
    wrong = parameter_mismatches(_xml_jobs(tmp_path / "out"), reports, {}, tmp_path)
    assert sorted(w.split(":")[0] for w in wrong) == sorted(set(jobs) - {"same", "none"}), wrong
