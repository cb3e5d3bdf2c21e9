"""The production deploy files (``deploy/``) checked against the code they deploy.

Every process of the Procfile has a compose service, a Kubernetes workload and a systemd unit
running its command; every Celery queue has a KEDA ScaledObject on its Redis list; every setting
the code reads is in ``deploy/env.example``, and the deploy files name no other. Each check is a
function that returns the problems it finds, so a test can also show that a broken copy (a queue
without a ScaledObject, a unit that gives up restarting) is caught. The container, Kubernetes and
systemd tools run where they are installed and are skipped, saying which is missing, elsewhere.
"""
from __future__ import annotations

import copy
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="pyyaml (the dev extra) reads the compose file and the manifests")

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SYSTEMD = DEPLOY / "systemd"
#: Settings whose values are secrets: the Kubernetes Secret holds them, the ConfigMap never does.
SECRET_SETTINGS = {"DATABASE_URL", "REDIS_URL", "MLC_ENCRYPTION_KEYS", "FLOWER_BASIC_AUTH"}
#: compose services that are not Procfile processes
DATA_SERVICES = {"postgres", "redis"}
#: What a deploy file may set otherwise than the Procfile: where a process listens (Flower's
#: --address, the host part of gunicorn's --bind), since a container listens on its own network
#: and publishes the port on the host's loopback, where the Procfile's process listens on it.
ADDRESS_OPTION = "--address"
BIND_OPTION = "--bind"
UNIT_BIN = "/opt/ml-connector/bin/"


# -- reading the files ------------------------------------------------------------------------

def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))


def procfile_variables() -> set[str]:
    return set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", (ROOT / "Procfile").read_text()))


def queues() -> tuple[str, ...]:
    from connector.flows import QUEUES
    return QUEUES


def load_yaml(path: Path) -> list:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def compose() -> dict:
    return load_yaml(DEPLOY / "compose.yaml")[0]


def manifests(directory: Path = K8S) -> list[dict]:
    """Every Kubernetes object under ``directory`` (kustomizations are not objects)."""
    return [doc for path in sorted(directory.rglob("*.yaml")) if path.name != "kustomization.yaml"
            for doc in load_yaml(path)]


def units() -> dict[str, dict[str, dict[str, list[str]]]]:
    """unit file name -> section -> key -> values (systemd allows a key more than once)."""
    parsed = {}
    for path in sorted(SYSTEMD.iterdir()):
        sections: dict[str, dict[str, list[str]]] = {}
        section = None
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = sections.setdefault(line.strip("[]"), {})
            else:
                key, _, value = line.partition("=")
                section.setdefault(key.strip(), []).append(value.strip())
        parsed[path.name] = sections
    return parsed


def env_example(path: Path = DEPLOY / "env.example") -> tuple[dict[str, str], set[str]]:
    """(the settings it sets, every setting it names: set or shown commented as `# NAME=value`)."""
    active, named = {}, set()
    for line in path.read_text().splitlines():
        if match := re.match(r"([A-Z][A-Z0-9_]*)=(.*)$", line):
            active[match[1]] = match[2]
            named.add(match[1])
        elif match := re.match(r"#\s?([A-Z][A-Z0-9_]*)=", line):
            named.add(match[1])
    return active, named


def settings_read_by_code() -> set[str]:
    """Every variable ``connector.config`` reads (it is the one place that reads the environment),
    recorded by letting it read an empty environment, plus MLC_CONCURRENCY_<QUEUE> for each queue."""
    from connector.config import CONCURRENCY_PREFIX, Settings

    class Recorder(dict):
        def __init__(self):
            super().__init__()
            self.names: set[str] = set()

        def get(self, key, default=None):
            self.names.add(key)
            return default

        def __getitem__(self, key):
            self.names.add(key)
            raise KeyError(key)

        def __contains__(self, key):
            self.names.add(key)
            return False

    env = Recorder()
    Settings.from_env(env)
    return env.names | {f"{CONCURRENCY_PREFIX}{queue.upper()}" for queue in queues()}


def flower_variables() -> set[str]:
    """FLOWER_<OPTION> for each of Flower's options (Flower reads them from the environment)."""
    from flower.options import options
    return {f"FLOWER_{name.replace('-', '_').upper()}" for name in options._options}


# -- commands -------------------------------------------------------------------------------------

def expanded(command: str) -> list[str]:
    """The Procfile's command as a shell would run it with the variables unset: ${X:-d} -> d."""
    return shlex.split(re.sub(r"\$\{[A-Z][A-Z0-9_]*:-([^}]*)\}", r"\1", command))


def options(argv: list[str], name: str) -> list[tuple[int, str]]:
    """(index, value) of each ``name VALUE`` or ``name=VALUE`` in argv."""
    found = []
    for index, token in enumerate(argv):
        if token == name and index + 1 < len(argv):
            found.append((index + 1, argv[index + 1]))
        elif token.startswith(name + "="):
            found.append((index, token))
    return found


def comparable(argv: list[str]) -> list[str]:
    """argv without the program's directory and without the address it listens on (the port stays)."""
    argv = [Path(argv[0]).name, *argv[1:]]
    for index, value in options(argv, ADDRESS_OPTION):
        argv[index] = ADDRESS_OPTION + "=*" if value.startswith(ADDRESS_OPTION) else "*"
    for index, value in options(argv, BIND_OPTION):
        prefix, _, bind = value.rpartition("=") if value.startswith(BIND_OPTION + "=") else ("", "", value)
        argv[index] = (prefix + "=" if prefix else "") + "*:" + bind.rpartition(":")[2]
    return argv


def address(argv: list[str]) -> str | None:
    """Where the process listens: Flower's --address, or the host of gunicorn's --bind."""
    for _, value in options(argv, ADDRESS_OPTION):
        return value.split("=", 1)[1] if value.startswith(ADDRESS_OPTION + "=") else value
    for _, value in options(argv, BIND_OPTION):
        return value.removeprefix(BIND_OPTION + "=").rpartition(":")[0]
    return None


def command_problems(where: str, process: str, argv, procfile_line: str) -> list[str]:
    if not isinstance(argv, list) or not argv:
        return [f"{where}: {process} has no command list (got {argv!r})"]
    if comparable(argv) != comparable(expanded(procfile_line)):
        return [f"{where}: {process} runs {shlex.join(argv)!r}, the Procfile {procfile_line.strip()!r}"]
    return []


def worker_queue(procfile_line: str) -> str:
    argv = expanded(procfile_line)
    assert argv[:2] == ["ml-connector", "worker"], procfile_line
    return argv[2]


# -- the checks: each returns what is wrong --------------------------------------------------------

def compose_problems(document: dict, processes: dict[str, str]) -> list[str]:
    problems = []
    services = document.get("services", {})
    for name in sorted(set(processes) - set(services)):
        problems.append(f"compose: the Procfile's {name} has no service")
    for name in sorted(set(services) - set(processes) - DATA_SERVICES):
        problems.append(f"compose: service {name} is no Procfile process")
    for name, line in processes.items():
        service = services.get(name)
        if service is None:
            continue
        problems += command_problems("compose", name, service.get("command"), line)
        restart = str(service.get("restart"))
        if name == "release":
            if restart != "no":
                problems.append(f"compose: release is a one-shot (restart: no), not restart: {restart}")
            continue
        if restart != "always":
            problems.append(f"compose: {name} must restart whatever its exit code (restart: always), not {restart}")
        condition = service.get("depends_on", {}).get("release", {}).get("condition")
        if condition != "service_completed_successfully":
            problems.append(f"compose: {name} must start after the release completed, not on {condition!r}")
        for published in service.get("ports", []):
            if not str(published).startswith("127.0.0.1:"):
                problems.append(f"compose: {name} publishes {published} beyond the host's loopback")
    if "flower" in services and "FLOWER_BASIC_AUTH" in services["flower"].get("environment", {}):
        problems.append("compose: FLOWER_BASIC_AUTH belongs in the env file, not in the compose file")
    redis = services.get("redis", {})
    if "requirepass" not in str(redis.get("command")):
        problems.append("compose: Redis runs without a password (requirepass)")
    for name, service in services.items():
        url = str(service.get("environment", {}).get("REDIS_URL", ""))
        if url and not re.match(r"rediss?://[^@/]*:[^@/]+@", url):
            problems.append(f"compose: {name}'s REDIS_URL has no password")
    return problems


def workloads(objects: list[dict]) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o.get("kind") in ("Deployment", "Job")}


def containers(workload: dict) -> list[dict]:
    return workload["spec"]["template"]["spec"]["containers"]


def k8s_problems(objects: list[dict], processes: dict[str, str]) -> list[str]:
    problems = []
    found = workloads(objects)
    for name, line in processes.items():
        workload = found.get(name)
        kind = "Job" if name == "release" else "Deployment"
        if workload is None or workload["kind"] != kind:
            problems.append(f"k8s: the Procfile's {name} has no {kind} named {name}")
            continue
        command = containers(workload)[0].get("command")
        problems += command_problems("k8s", name, command, line)
        if name.startswith("worker-") and "replicas" in workload["spec"]:
            problems.append(f"k8s: {name} sets replicas, which would undo KEDA's at each apply")
    for name in sorted(set(found) - set(processes)):
        problems.append(f"k8s: workload {name} is no Procfile process")
    for name, workload in found.items():
        pod = workload["spec"]["template"]["spec"]
        labels = workload["spec"]["template"]["metadata"]["labels"]
        selector = workload["spec"].get("selector", {}).get("matchLabels", labels)
        if any(labels.get(k) != v for k, v in selector.items()):
            problems.append(f"k8s: {name}'s selector does not select its own pods")
        if not pod.get("securityContext", {}).get("runAsNonRoot"):
            problems.append(f"k8s: {name} may run as root (runAsNonRoot)")
        for container in pod["containers"]:
            if container.get("image") != "ml-connector":
                problems.append(f"k8s: {name} runs {container.get('image')}, not the ml-connector image")
            refs = {next(iter(ref)): next(iter(ref.values()))["name"] for ref in container.get("envFrom", [])}
            if refs != {"configMapRef": "ml-connector-config", "secretRef": "ml-connector"}:
                problems.append(f"k8s: {name} does not read the settings ConfigMap and Secret ({refs})")
            ports = {p["containerPort"] for p in container.get("ports", [])}
            if address(container.get("command", [])) not in (None, "127.0.0.1") and not ports:
                problems.append(f"k8s: {name} listens beyond the pod's loopback on a port it does not declare")
    services = [o for o in objects if o.get("kind") == "Service"]
    web = found.get("web")
    if web is not None:
        web_labels = web["spec"]["template"]["metadata"]["labels"]
        web_ports = {p["name"] for c in containers(web) for p in c.get("ports", [])}
        if not any(all(web_labels.get(k) == v for k, v in s["spec"]["selector"].items())
                   and all(p["targetPort"] in web_ports for p in s["spec"]["ports"]) for s in services):
            problems.append("k8s: no Service selects the web pods on a port they have")
    for service in services:
        if service["metadata"]["name"] != "web":
            problems.append(f"k8s: Service {service['metadata']['name']} exposes more than the receiver")
    return problems


def keda_problems(objects: list[dict], queue_names: tuple[str, ...], processes: dict[str, str]) -> list[str]:
    problems = []
    worker_of = {worker_queue(line): name for name, line in processes.items() if name.startswith("worker-")}
    deployments = {o["metadata"]["name"] for o in objects if o.get("kind") == "Deployment"}
    auths = {o["metadata"]["name"] for o in objects if o.get("kind") == "TriggerAuthentication"}
    scaled: dict[str, str] = {}
    for scaled_object in (o for o in objects if o.get("kind") == "ScaledObject"):
        name, spec = scaled_object["metadata"]["name"], scaled_object["spec"]
        target = spec["scaleTargetRef"]["name"]
        if target not in deployments:
            problems.append(f"keda: ScaledObject {name} scales {target}, which is no Deployment")
        if not 1 <= spec.get("minReplicaCount", 0) <= spec.get("maxReplicaCount", 0):
            problems.append(f"keda: ScaledObject {name} may scale its workers to none")
        for trigger in spec["triggers"]:
            metadata = trigger.get("metadata", {})
            if trigger.get("type") != "redis" or "listName" not in metadata:
                problems.append(f"keda: ScaledObject {name} has a trigger that is not a Redis list")
                continue
            if any(not isinstance(value, str) for value in metadata.values()):
                problems.append(f"keda: ScaledObject {name}'s trigger metadata must be strings")
            if not str(metadata.get("listLength", "")).isdigit():
                problems.append(f"keda: ScaledObject {name} has no whole listLength")
            if trigger.get("authenticationRef", {}).get("name") not in auths:
                problems.append(f"keda: ScaledObject {name} names no TriggerAuthentication of these files")
            scaled[metadata["listName"]] = target
    from connector.flows import lane_lists
    for queue in queue_names:
        if queue not in worker_of:
            problems.append(f"Procfile: queue {queue} has no worker process")
        if queue not in scaled:
            problems.append(f"keda: queue {queue} has no ScaledObject on its Redis list {queue!r}")
            continue
        for listed in lane_lists(queue):  # each lane of the queue is a list of its own
            if listed not in scaled:
                problems.append(f"keda: the ScaledObject of queue {queue} does not watch its lane {listed!r}")
            elif queue in worker_of and scaled[listed] != worker_of[queue]:
                problems.append(f"keda: the list {listed!r} scales {scaled[listed]}, but {worker_of[queue]} consumes it")
    for listed in sorted(set(scaled) - {name for queue in queue_names for name in lane_lists(queue)}):
        problems.append(f"keda: a ScaledObject watches {listed!r}, which is no Celery queue")
    return problems


def unit_argv(exec_start: str, instance: str = "") -> list[str]:
    """The argv systemd runs for ``ExecStart`` (specifiers and $$ expanded, and the shell's
    parameter expansion of a ``/bin/sh -c`` wrapper done by a real shell)."""
    line = exec_start.replace("%i", instance).replace("%I", instance).replace("%%", "%").replace("$$", "$")
    argv = shlex.split(line)
    if argv[:2] == ["/bin/sh", "-c"]:
        script = argv[2]
        if not script.startswith("exec "):
            return argv
        printed = subprocess.run(["/bin/sh", "-c", "printf '%s\\n' " + script.removeprefix("exec "), *argv[3:]],
                                 capture_output=True, text=True, check=True).stdout
        return printed.splitlines()
    return argv


def systemd_problems(parsed: dict, processes: dict[str, str]) -> list[str]:
    problems = []
    for name, line in processes.items():
        if name.startswith("worker-"):
            queue = worker_queue(line)
            unit, instances = "ml-connector-worker@.service", [queue, f"{queue}-2"]
        else:
            unit, instances = f"ml-connector-{name}.service", [""]
        sections = parsed.get(unit)
        if sections is None:
            problems.append(f"systemd: the Procfile's {name} has no unit {unit}")
            continue
        service = sections.get("Service", {})
        for instance in instances:
            argv = unit_argv(service.get("ExecStart", [""])[-1], instance)
            problems += command_problems(f"systemd {unit.replace('@', '@' + instance)}", name, argv, line)
            if address(argv) not in (None, "127.0.0.1") and name != "web":
                problems.append(f"systemd: {unit} listens beyond the host's loopback")
        if name == "release":
            if service.get("Type") != ["oneshot"]:
                problems.append("systemd: the release unit must be Type=oneshot")
            continue
        if service.get("Restart") != ["always"]:
            problems.append(f"systemd: {unit} must restart whatever its exit code (Restart=always), "
                            f"not {service.get('Restart')}")
        if sections.get("Unit", {}).get("StartLimitIntervalSec") != ["0"]:
            problems.append(f"systemd: {unit} would stop restarting after a burst (StartLimitIntervalSec=0)")
        if service.get("User", ["root"])[-1] in ("root", "0"):
            problems.append(f"systemd: {unit} runs as root")
        if "ml-connector.target" not in sections.get("Install", {}).get("WantedBy", []):
            problems.append(f"systemd: {unit} is not part of ml-connector.target")
    if "ml-connector.target" not in parsed:
        problems.append("systemd: no ml-connector.target")
    return problems


def env_problems(named: set[str], read: set[str]) -> list[str]:
    problems = [f"env.example: {name} is read by the code but not in the template" for name in sorted(read - named)]
    allowed = read | procfile_variables() | flower_variables()
    problems += [f"env.example: nothing reads {name}" for name in sorted(named - allowed)]
    return problems


def referenced_settings() -> dict[str, set[str]]:
    """Every setting a deploy file sets, by file (env files are copies of env.example)."""
    found: dict[str, set[str]] = {}
    for name, service in compose()["services"].items():
        if name not in DATA_SERVICES:
            found.setdefault("compose.yaml", set()).update(service.get("environment", {}))
    for obj in manifests():
        if obj.get("kind") in ("ConfigMap", "Secret") and obj["metadata"]["name"] in ("ml-connector-config",
                                                                                      "ml-connector"):
            found.setdefault(f"k8s {obj['kind']}", set()).update(obj.get("data") or obj.get("stringData") or {})
        if obj.get("kind") in ("Deployment", "Job"):
            for container in containers(obj):
                found.setdefault("k8s env", set()).update(e["name"] for e in container.get("env", []))
    for unit, sections in units().items():
        for assignment in sections.get("Service", {}).get("Environment", []):
            found.setdefault(f"systemd {unit}", set()).update(
                a.split("=", 1)[0] for a in shlex.split(assignment))
    return found


# -- the files are valid ------------------------------------------------------------------------

YAML_FILES = sorted([DEPLOY / "compose.yaml", *K8S.rglob("*.yaml")])


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_given_deploy_yaml_file_then_every_document_parses_as_a_mapping(path):
    documents = load_yaml(path)
    assert documents and all(isinstance(doc, dict) for doc in documents)
    if path.parent.is_relative_to(K8S) and path.name != "kustomization.yaml":
        for doc in documents:
            assert {"apiVersion", "kind", "metadata"} <= set(doc), f"{path.name}: {doc.get('kind')} is incomplete"
            assert isinstance(doc["metadata"].get("name"), str), f"{path.name}: a name that is not a string"


def test_given_compose_file_then_it_runs_every_procfile_process_as_the_procfile_does():
    assert compose_problems(compose(), procfile()) == []


def test_given_k8s_manifests_then_every_procfile_process_has_its_workload_and_web_its_service():
    assert k8s_problems(manifests(), procfile()) == []


def test_given_k8s_manifests_then_every_celery_queue_scales_on_its_redis_list():
    assert keda_problems(manifests(), queues(), procfile()) == []


def test_given_systemd_units_then_every_procfile_process_has_a_unit_that_always_restarts():
    assert systemd_problems(units(), procfile()) == []


def test_given_procfile_web_then_its_gunicorn_settings_are_the_config_module_s_alone():
    from cli.stack import WEB_CONFIG
    argv = expanded(procfile()["web"])
    assert argv[:3] == ["gunicorn", "-c", WEB_CONFIG]
    overridden = {"-w", "--workers", "--threads", "-k", "--worker-class", "--worker-connections", "-t", "--timeout"}
    assert not overridden & {token.split("=", 1)[0] for token in argv}, "web/gunicorn_conf.py holds these"


def test_given_the_demo_and_test_stack_then_they_run_the_procfile_web_command():
    from cli.stack import web_command
    assert comparable(web_command(8000)) == comparable(expanded(procfile()["web"]))


def test_given_kustomizations_then_both_deploy_the_same_image_into_the_namespace():
    base, release = load_yaml(K8S / "kustomization.yaml")[0], load_yaml(K8S / "release" / "kustomization.yaml")[0]
    assert base["images"] == release["images"]
    assert base["namespace"] == release["namespace"] == "ml-connector"
    listed = {*base["resources"], *(f"release/{r}" for r in release["resources"])}
    on_disk = {str(p.relative_to(K8S)) for p in K8S.rglob("*.yaml")} - {"kustomization.yaml",
                                                                           "release/kustomization.yaml"}
    # the Secret template is applied by hand, from the operator's own values
    assert on_disk - listed == {"secret.example.yaml"}


def test_given_env_example_then_it_names_every_setting_the_code_reads_and_no_other():
    _, named = env_example()
    assert env_problems(named, settings_read_by_code()) == []


def test_given_env_example_and_configmap_then_their_values_load_as_settings():
    from connector.config import Settings
    active, _ = env_example()
    Settings.from_env(active)
    configmap = next(o for o in manifests() if o["kind"] == "ConfigMap")
    Settings.from_env(configmap["data"])


def test_given_env_example_then_its_concurrency_lines_show_the_pools_defaults():
    from workers.pools import THREADS
    text = (DEPLOY / "env.example").read_text()
    for queue in queues():
        assert f"# MLC_CONCURRENCY_{queue.upper()}={THREADS.get(queue, 4)}\n" in text, queue


def test_given_env_example_then_redis_has_a_password_and_a_tls_form():
    text = (DEPLOY / "env.example").read_text()
    active, _ = env_example()
    assert re.match(r"redis://[^@/]*:[^@/]+@", active["REDIS_URL"])
    assert re.search(r"^# REDIS_URL=rediss://:[^@/]+@\S+\?ssl_cert_reqs=required", text, re.M)


def test_given_deploy_files_then_every_setting_they_set_is_in_env_example():
    _, named = env_example()
    for where, names in referenced_settings().items():
        assert names <= named, f"{where} sets {sorted(names - named)}, which env.example does not have"


def test_given_k8s_settings_then_configmap_and_secret_split_env_example_by_secrecy():
    active, _ = env_example()
    objects = {o["metadata"]["name"]: o for o in manifests() if o["kind"] in ("ConfigMap", "Secret")}
    configmap, secret = objects["ml-connector-config"]["data"], set(objects["ml-connector"]["stringData"])
    assert not set(configmap) & SECRET_SETTINGS
    assert secret == SECRET_SETTINGS
    differing = {name: (value, active[name]) for name, value in configmap.items()
                 if name in active and value != active[name]}
    assert not differing, f"the ConfigMap and env.example set these otherwise: {differing}"


def test_given_keda_database_then_it_is_the_one_of_redis_url():
    active, _ = env_example()
    database = active["REDIS_URL"].rsplit("/", 1)[1]
    secret = next(o for o in manifests() if o["metadata"]["name"] == "ml-connector" and o["kind"] == "Secret")
    assert secret["stringData"]["REDIS_URL"].rsplit("/", 1)[1] == database
    for obj in manifests():
        if obj["kind"] == "ScaledObject":
            assert all(t["metadata"]["databaseIndex"] == database for t in obj["spec"]["triggers"])


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), by stage."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    instructions = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    stages: list[list[str]] = [[]]
    for instruction in instructions:
        if instruction.upper().startswith("FROM ") and stages[-1] and any(
                i.upper().startswith("FROM ") for i in stages[-1]):
            stages.append([])
        stages[-1].append(instruction)
    return stages


def test_given_dockerfile_then_multistage_pinned_non_root_with_a_healthcheck_and_no_dev_extras():
    import json
    stages = dockerfile_stages()
    everything = [i for stage in stages for i in stage]
    assert len(stages) >= 2, "one build stage and one runtime stage"
    base = next(i for i in everything if i.startswith("ARG PYTHON_IMAGE="))
    assert re.fullmatch(r"ARG PYTHON_IMAGE=python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base), base
    runtime = stages[-1]
    user = [i.split()[1] for i in runtime if i.startswith("USER ")]
    assert user and user[-1].split(":")[0] not in ("root", "0"), "the runtime stage runs as a user"
    assert any(i.startswith("HEALTHCHECK ") for i in runtime)
    assert any(i.startswith("COPY --from=") for i in runtime)
    installs = [i for i in everything if "pip install" in i]
    assert installs and not any("[" in i for i in installs), "no extras in the image"
    cmd = json.loads(next(i for i in runtime if i.startswith("CMD ")).removeprefix("CMD "))
    assert command_problems("Dockerfile", "web", cmd, procfile()["web"]) == []


def test_given_dockerignore_then_it_lets_in_what_the_dockerfile_copies_and_setup_cfg_packages():
    import configparser
    ignore = {line.strip().rstrip("/").removeprefix("!") for line in
              (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines() if line.startswith("!")}
    copies = [i for stage in dockerfile_stages() for i in stage if i.startswith("COPY ") and "--from=" not in i]
    copied = {source.rstrip("/") for i in copies for source in i.split()[1:-1]}
    assert copied <= ignore, f"copied but left out of the context: {sorted(copied - ignore)}"
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    packages = {p.strip() for p in setup["options.packages.find"]["include"].split() if "." not in p}
    assert packages <= copied, f"packages the image would miss: {sorted(packages - copied)}"


def test_given_deploy_dir_then_filled_in_copies_are_ignored_by_git():
    ignored = (DEPLOY / ".gitignore").read_text().split()
    assert {".env", "ml-connector.env", "mapping.toml"} <= set(ignored)
    assert compose()["x-app"]["env_file"] == "ml-connector.env"


# -- the checks catch what they are for ---------------------------------------------------------

def test_given_a_new_queue_without_scaled_object_then_keda_check_names_it():
    processes = dict(procfile(), **{"worker-refunds": "ml-connector worker refunds"})
    problems = keda_problems(manifests(), (*queues(), "refunds"), processes)
    assert problems == ["keda: queue refunds has no ScaledObject on its Redis list 'refunds'"]


def test_given_a_queue_without_worker_process_then_keda_check_names_it():
    problems = keda_problems(manifests(), (*queues(), "refunds"), procfile())
    assert "Procfile: queue refunds has no worker process" in problems


def test_given_a_scaled_object_on_the_wrong_list_then_keda_check_names_it():
    objects = copy.deepcopy(manifests())
    scaled = next(o for o in objects if o["kind"] == "ScaledObject" and o["metadata"]["name"] == "worker-invoices")
    scaled["spec"]["triggers"][0]["metadata"]["listName"] = "invoice"
    problems = keda_problems(objects, queues(), procfile())
    assert "keda: queue invoices has no ScaledObject on its Redis list 'invoices'" in problems
    assert "keda: a ScaledObject watches 'invoice', which is no Celery queue" in problems


def test_given_a_scaled_object_without_its_backlog_lane_then_keda_check_names_it():
    objects = copy.deepcopy(manifests())
    scaled = next(o for o in objects if o["kind"] == "ScaledObject" and o["metadata"]["name"] == "worker-invoices")
    scaled["spec"]["triggers"] = [t for t in scaled["spec"]["triggers"] if t["metadata"]["listName"] == "invoices"]
    problems = keda_problems(objects, queues(), procfile())
    assert problems == ["keda: the ScaledObject of queue invoices does not watch its lane 'invoices\\x06\\x166'"]


def test_given_a_new_procfile_process_then_compose_k8s_and_systemd_checks_name_it():
    processes = dict(procfile(), exporter="gunicorn --bind 127.0.0.1:9000 web.exporter:app")
    assert "compose: the Procfile's exporter has no service" in compose_problems(compose(), processes)
    assert "k8s: the Procfile's exporter has no Deployment named exporter" in k8s_problems(manifests(), processes)
    assert ("systemd: the Procfile's exporter has no unit ml-connector-exporter.service"
            in systemd_problems(units(), processes))


def test_given_a_changed_procfile_command_then_each_deploy_file_is_named():
    processes = dict(procfile(), web=procfile()["web"].replace("python:web.gunicorn_conf", "python:web.other_conf"))
    assert any(p.startswith("compose: web runs") for p in compose_problems(compose(), processes))
    assert any(p.startswith("k8s: web runs") for p in k8s_problems(manifests(), processes))
    assert any(p.startswith("systemd ml-connector-web.service: web runs") for p in systemd_problems(units(), processes))


def test_given_a_unit_restarting_on_failure_only_then_systemd_check_names_it():
    parsed = copy.deepcopy(units())
    parsed["ml-connector-beat.service"]["Service"]["Restart"] = ["on-failure"]
    assert systemd_problems(parsed, procfile()) == [
        "systemd: ml-connector-beat.service must restart whatever its exit code (Restart=always), "
        "not ['on-failure']"]


def test_given_worker_template_then_an_instance_with_a_number_runs_its_queue():
    exec_start = units()["ml-connector-worker@.service"]["Service"]["ExecStart"][-1]
    assert unit_argv(exec_start, "credit_memos-3") == [UNIT_BIN + "ml-connector", "worker", "credit_memos"]


def test_given_a_setting_the_code_does_not_read_then_env_check_names_it():
    _, named = env_example()
    assert env_problems(named | {"MLC_INVENTED"}, settings_read_by_code()) == [
        "env.example: nothing reads MLC_INVENTED"]
    assert env_problems(named - {"MLC_LOCK_TIMEOUT"}, settings_read_by_code()) == [
        "env.example: MLC_LOCK_TIMEOUT is read by the code but not in the template"]


def test_given_compose_without_redis_password_or_restart_then_compose_check_names_them():
    document = copy.deepcopy(compose())
    document["services"]["redis"]["command"] = ["redis-server"]
    document["services"]["beat"]["restart"] = "on-failure"
    document["services"]["flower"]["ports"] = ["5555:5555"]
    assert compose_problems(document, procfile()) == [
        "compose: beat must restart whatever its exit code (restart: always), not on-failure",
        "compose: flower publishes 5555:5555 beyond the host's loopback",
        "compose: Redis runs without a password (requirepass)"]


# -- the tools, where they are installed ----------------------------------------------------------

def run(argv: list[str], timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)


def compose_command() -> list[str]:
    if shutil.which("docker") and run(["docker", "compose", "version"]).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.skip("docker compose is not installed (neither the compose plugin nor docker-compose)")


def test_given_docker_compose_then_compose_config_validates(tmp_path):
    command = compose_command()
    project = tmp_path / "deploy"
    project.mkdir()
    shutil.copy(DEPLOY / "compose.yaml", project / "compose.yaml")
    shutil.copy(DEPLOY / "env.example", project / "ml-connector.env")
    shutil.copy(DEPLOY / "mapping.example.toml", project / "mapping.toml")
    (project / ".env").write_text("POSTGRES_PASSWORD=test-postgres\nREDIS_PASSWORD=test-redis\n")
    result = run([*command, "--project-directory", str(project), "-f", str(project / "compose.yaml"), "config"])
    assert result.returncode == 0, result.stderr
    assert "test-redis@redis:6379/0" in result.stdout


def test_given_docker_then_image_builds_and_runs_as_non_root():
    if not shutil.which("docker"):
        pytest.skip("docker is not installed: the image is not built")
    if run(["docker", "info"], timeout=30).returncode != 0:
        pytest.skip("docker is installed but no Docker daemon answers: the image is not built")
    tag = f"ml-connector:deploy-test-{Path(sys.executable).stat().st_ino}"
    build = run(["docker", "build", "-f", str(DEPLOY / "Dockerfile"), "-t", tag, str(ROOT)], timeout=1800)
    assert build.returncode == 0, build.stderr[-4000:]
    try:
        uid = run(["docker", "run", "--rm", "--entrypoint", "id", tag, "-u"], timeout=120)
        assert uid.returncode == 0 and uid.stdout.strip() != "0", uid
        cli = run(["docker", "run", "--rm", tag, "ml-connector", "--help"], timeout=120)
        assert cli.returncode == 0 and "worker" in cli.stdout, cli
    finally:
        run(["docker", "image", "rm", "-f", tag], timeout=120)


def kubectl() -> str:
    path = shutil.which("kubectl")
    if not path:
        pytest.skip("kubectl is not installed: the manifests are not rendered with kustomize")
    return path


def test_given_kubectl_then_kustomize_renders_both_kustomizations_with_the_image_and_namespace():
    for directory in (K8S, K8S / "release"):
        result = run([kubectl(), "kustomize", str(directory)])
        assert result.returncode == 0, result.stderr
        rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
        for obj in rendered:
            if obj["kind"] != "Namespace":
                assert obj["metadata"].get("namespace") == "ml-connector", obj["metadata"]["name"]
            if obj["kind"] in ("Deployment", "Job"):
                assert all(c["image"].startswith("registry.example.com/ml-connector:")
                           for c in containers(obj)), obj["metadata"]["name"]


def test_given_kubectl_and_a_cluster_then_dry_run_accepts_the_manifests():
    path = kubectl()
    if run([path, "version", "--request-timeout=5s"], timeout=30).returncode != 0:
        pytest.skip("kubectl is installed but no cluster answers: --dry-run=client needs the API server's "
                    "discovery, so only `kubectl kustomize` ran")
    keda = run([path, "api-resources", "--api-group=keda.sh", "-o", "name"], timeout=30).stdout.strip()
    for directory in (K8S, K8S / "release"):
        rendered = [doc for doc in yaml.safe_load_all(run([path, "kustomize", str(directory)]).stdout) if doc]
        if not keda:  # without KEDA's CRDs the cluster cannot know ScaledObjects
            rendered = [doc for doc in rendered if not doc["apiVersion"].startswith("keda.sh/")]
        result = run([path, "apply", "--dry-run=client", "-f", "-"], input=yaml.safe_dump_all(rendered))
        assert result.returncode == 0, result.stderr


def test_given_systemd_analyze_then_every_unit_verifies(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is not installed: the units are not verified")
    # the units run the virtualenv's programs: point them at this one's, so that verify finds them
    for unit in SYSTEMD.iterdir():
        (tmp_path / unit.name).write_text(unit.read_text().replace(UNIT_BIN, f"{Path(sys.executable).parent}/"))
    names = [p.name for p in SYSTEMD.iterdir() if "@." not in p.name]
    names += [f"ml-connector-worker@{queue}.service" for queue in queues()] + ["ml-connector-worker@invoices-2.service"]
    result = run([analyze, "verify", "--man=no", *names], env={"SYSTEMD_UNIT_PATH": f"{tmp_path}:", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr


def test_given_deploy_files_then_the_customers_workers_write_exports_to_a_volume_that_outlives_them():
    values, _ = env_example()
    export_dir = values["MLC_PRIVACY_EXPORT_DIR"]
    service = compose()["services"]["worker-customers"]
    assert any(str(v).split(":")[1] == export_dir and not str(v).startswith(".") for v in service["volumes"])
    workload = workloads(manifests())["worker-customers"]
    [worker] = containers(workload)
    mounted = {m["name"]: m["mountPath"] for m in worker["volumeMounts"]}
    claims = {v["name"] for v in workload["spec"]["template"]["spec"]["volumes"] if "persistentVolumeClaim" in v}
    assert any(mounted.get(name) == export_dir for name in claims)
    [configmap] = [o for o in manifests() if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "ml-connector-config"]
    assert configmap["data"]["MLC_PRIVACY_EXPORT_DIR"] == export_dir
