"""The deploy kit agrees with the shop: compose.yaml, deploy/k8s/, deploy/systemd/,
the Dockerfile, the lock files and every command of docs/deploy.md.

Docker and a cluster don't run here, so their files are parsed and checked
against the code: the processes they start are real gunicorn or manage.py
commands, every environment variable they set is one the shop reads, the
images and names agree, containers don't run as root. What can run here
does: kustomize builds the manifests, systemd verifies the units, Redis
starts with the kit's settings, and the lock check runs on the real files.
"""

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "deploy.md"
IMAGE = "duka-tech"

#: Variables read by something other than storefront/settings.py: gunicorn's
#: (gunicorn.conf.py is also parsed), Python's and pip's in the Dockerfile.
PROCESS_VARIABLES = {
    "PORT",
    "WEB_CONCURRENCY",
    "PROMETHEUS_MULTIPROC_DIR",
    "PATH",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "PIP_NO_CACHE_DIR",
}


# --- what the shop reads --------------------------------------------------


def names_read(path: Path) -> set[str]:
    source = path.read_text()
    names = set(re.findall(r"\benv(?:_bool|_int|_list)?\(\s*\"([A-Z][A-Z0-9_]*)\"", source))
    names |= set(re.findall(r"os\.environ(?:\.get)?[(\[]\s*[\"']([A-Z][A-Z0-9_]*)[\"']", source))
    names |= set(re.findall(r"os\.getenv\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']", source))
    if "dj_database_url.config(" in source:
        names.add("DATABASE_URL")  # dj-database-url's default variable
    return names


def known_variables() -> set[str]:
    known = names_read(ROOT / "storefront" / "settings.py") | PROCESS_VARIABLES
    if (ROOT / "gunicorn.conf.py").exists():
        known |= names_read(ROOT / "gunicorn.conf.py")
    return known


def test_settings_parsing_finds_the_shops_variables():
    known = known_variables()
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "TRUSTED_PROXIES", "MEDIA_ROOT"} <= known
    assert "NOT_A_SETTING" not in known


# --- the files of the kit -------------------------------------------------


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def k8s_objects() -> list[tuple[str, dict]]:
    objects = []
    for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        objects += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return objects


def k8s(kind: str, name: str) -> dict:
    found = [o for _, o in k8s_objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"deploy/k8s has {len(found)} {kind} {name}"
    return found[0]


def pod_specs() -> list[tuple[str, dict]]:
    specs = []
    for _, obj in k8s_objects():
        if obj["kind"] in ("Deployment", "Job"):
            specs.append((obj["metadata"]["name"], obj["spec"]["template"]["spec"]))
    return specs


def shop_services() -> dict[str, dict]:
    return {
        name: service
        for name, service in compose()["services"].items()
        if service.get("image", "").split(":")[0] == IMAGE
    }


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n(\s*#[^\n]*\n)*", " ", (ROOT / "Dockerfile").read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def systemd_units() -> dict[str, dict[str, list[str]]]:
    units = {}
    for path in sorted((ROOT / "deploy" / "systemd").glob("*.service")):
        entries: dict[str, list[str]] = {}
        for line in path.read_text().splitlines():
            if "=" in line and not line.startswith(("#", "[")):
                key, _, value = line.partition("=")
                entries.setdefault(key.strip(), []).append(value.strip())
        units[path.stem] = entries
    return units


# --- the processes they start ---------------------------------------------


def simple_commands(command) -> list[list[str]]:
    """Split a command (list or string; ``sh -c "a && b"`` too) into its programs."""
    words = shlex.split(command) if isinstance(command, str) else list(command)
    if words[:2] == ["sh", "-c"]:
        return [shlex.split(part) for part in words[2].split("&&")]
    return [words]


def assert_real_process(words: list[str], where: str) -> None:
    program = Path(words[0]).name
    if program == "gunicorn":
        assert words[-1] == "storefront.wsgi", where
        if "-c" in words:
            assert (ROOT / words[words.index("-c") + 1]).exists(), where
        return
    assert program in ("python", "python3"), f"{where}: {words}"
    assert words[1] == "manage.py", where
    assert words[2] in get_commands(), f"{where}: manage.py has no command {words[2]!r}"


def kit_processes() -> list[tuple[str, list[str]]]:
    found = []
    for name, service in shop_services().items():
        if name != "static":  # copies files into nginx's volume
            found += [(f"compose {name}", w) for w in simple_commands(service["command"])]
    for name, spec in pod_specs():
        for container in spec["containers"]:
            found += [(f"k8s {name}", w) for w in simple_commands(container["command"])]
    for unit, entries in systemd_units().items():
        found += [(f"systemd {unit}", shlex.split(e)) for e in entries["ExecStart"]]
    cmd = [rest for keyword, rest in dockerfile_instructions() if keyword == "CMD"][-1]
    found.append(("Dockerfile CMD", yaml.safe_load(cmd)))
    return found


def test_every_process_of_the_kit_is_gunicorn_or_a_real_manage_py_command():
    processes = kit_processes()
    for where, words in processes:
        assert_real_process(words, where)
    commands = {" ".join(words[1:3]) for _, words in processes if "manage.py" in words}
    assert {"manage.py worker", "manage.py scheduler", "manage.py migrate"} <= commands


def test_a_made_up_command_is_caught():
    with pytest.raises(AssertionError, match="no command"):
        assert_real_process(["python", "manage.py", "db_wroker"], "example")


# --- environment variables ------------------------------------------------


def env_file_names(text: str) -> set[str]:
    return set(re.findall(r"^\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def kit_variables() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for name, service in shop_services().items():
        found[f"compose.yaml {name}"] = set(service.get("environment") or {})
    for _, obj in k8s_objects():
        if obj["kind"] == "ConfigMap":
            found[f"ConfigMap {obj['metadata']['name']}"] = set(obj["data"])
        if obj["kind"] == "Secret":
            found[f"Secret {obj['metadata']['name']}"] = set(obj["stringData"])
    for name, spec in pod_specs():
        for container in spec["containers"]:
            found[f"k8s {name}"] = {e["name"] for e in container.get("env", [])}
    for keyword, rest in dockerfile_instructions():
        if keyword == "ENV":
            found.setdefault("Dockerfile", set()).update(re.findall(r"([A-Z][A-Z0-9_]*)=", rest))
    for unit, entries in systemd_units().items():
        found[f"systemd {unit}"] = {e.split("=")[0] for e in entries.get("Environment", [])}
    found[".env.example"] = env_file_names((ROOT / ".env.example").read_text())
    table = GUIDE.read_text().split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    found["docs/deploy.md table"] = {
        name
        for row in table.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", row.split("|")[1])
    }
    found["scripts/backup-env.sh"] = set(
        re.search(r"for name in (.*?); do", (ROOT / "scripts/backup-env.sh").read_text(), re.S)[1]
        .replace("\\\n", " ")
        .split()
    )
    return found


def test_every_variable_the_kit_sets_is_one_the_shop_reads():
    known = known_variables()
    found = kit_variables()
    assert len(found["docs/deploy.md table"]) > 30
    unknown = {where: sorted(names - known) for where, names in found.items() if names - known}
    assert not unknown, f"variables nothing reads: {unknown}"


def test_the_kit_sets_the_new_production_variables():
    every = set().union(*kit_variables().values())
    assert {
        "RATELIMIT_REDIS_URL",
        "MEDIA_STORAGE",
        "AWS_STORAGE_BUCKET_NAME",
        "LOG_FORMAT",
        "METRICS_TOKEN",
        "SENTRY_DSN",
        "TRUSTED_PROXIES",
    } <= every


# --- compose --------------------------------------------------------------


def test_compose_runs_the_shop_image_for_every_process_after_migrate():
    services = compose()["services"]
    shop = shop_services()
    assert {"web", "worker", "scheduler", "migrate"} <= set(shop)
    assert {s["image"] for s in shop.values()} == {f"{IMAGE}:latest"}
    for name in ("web", "worker", "scheduler"):
        depends = shop[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["db"]["condition"] == "service_healthy"
        assert shop[name]["environment"]["DATABASE_URL"].startswith("postgres://")
    assert services["db"]["image"].startswith("postgres:")
    assert services["nginx"]["profiles"] == ["proxy"]
    assert services["minio"]["profiles"] == ["s3"]
    assert (
        "./deploy/nginx/shop.conf:/etc/nginx/templates/default.conf.template:ro"
        in (services["nginx"]["volumes"])
    )
    env = shop["web"]["environment"]
    assert env["REDIS_URL"].startswith("redis://cache:")
    assert env["RATELIMIT_REDIS_URL"].startswith("redis://ratelimit:")


def test_compose_gives_nginx_every_name_its_template_asks_for():
    template = ROOT / "deploy" / "nginx" / "shop.conf"
    if not template.exists():
        pytest.skip("deploy/nginx/shop.conf has not landed yet")
    wanted = set(re.findall(r"\$\{(SHOP_[A-Z_]+)\}", template.read_text()))
    given = {n for n in compose()["services"]["nginx"]["environment"] if n.startswith("SHOP_")}
    assert wanted and wanted == given


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_config(args: list[str]) -> dict[str, str]:
    """Start redis-server with *args* on a free port; return its effective settings."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            *args,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            "/tmp",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        import redis

        client = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert process.poll() is None, f"redis-server refused {args}"
                assert time.monotonic() < deadline
                time.sleep(0.05)
        config = client.config_get("maxmemory*")
        client.close()
        return config
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize(
    ("service", "policy"), [("cache", "allkeys-lru"), ("ratelimit", "noeviction")]
)
def test_compose_redis_instances_start_with_their_eviction_policy(service, policy):
    command = compose()["services"][service]["command"]
    assert command[0] == "redis-server"
    config = redis_config(command[1:])
    assert config["maxmemory-policy"] == policy
    assert int(config["maxmemory"]) > 0


@pytest.mark.parametrize(
    ("block", "policy"), [("redis-cache", "allkeys-lru"), ("redis-ratelimit", "noeviction")]
)
def test_the_guides_redis_settings_are_what_redis_runs(block, policy):
    match = re.search(rf"<!-- check: {block} -->\n```conf\n(.*?)```", GUIDE.read_text(), re.S)
    args = []
    for line in match[1].splitlines():
        key, _, value = line.partition(" ")
        if key not in ("port", "appendonly"):  # the test picks its own
            args += [f"--{key}", value]
    config = redis_config(args)
    assert config["maxmemory-policy"] == policy


# --- Kubernetes -----------------------------------------------------------


def test_the_kustomization_lists_every_manifest_and_builds():
    kustomization = yaml.safe_load((ROOT / "deploy/k8s/kustomization.yaml").read_text())
    files = {p.name for p in (ROOT / "deploy/k8s").glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert kustomization["images"][0]["name"] == IMAGE
    kinds = sorted(obj["kind"] for _, obj in k8s_objects())
    assert kinds == sorted(
        ["Namespace", "ConfigMap", "Secret", "Job", "Deployment", "Deployment", "Deployment"]
        + ["Service", "Ingress"]
    )
    if not shutil.which("kubectl"):
        pytest.skip("kubectl is not installed: the manifests were parsed, not built")
    built = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "deploy/k8s")], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    docs = list(yaml.safe_load_all(built.stdout))
    assert len(docs) == 9
    namespaced = [d for d in docs if d["kind"] != "Namespace"]
    assert {d["metadata"]["namespace"] for d in namespaced} == {kustomization["namespace"]}


def test_every_pod_runs_the_shop_image_as_a_non_root_user():
    for name, spec in pod_specs():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        for container in spec["containers"]:
            assert container["image"] == IMAGE, name
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            refs = [
                ("ConfigMap", e["configMapRef"]["name"])
                if "configMapRef" in e
                else ("Secret", e["secretRef"]["name"])
                for e in container["envFrom"]
            ]
            for kind, ref in refs:
                k8s(kind, ref)


def test_the_web_deployment_is_probed_and_reached_through_service_and_ingress():
    web = k8s("Deployment", "shop-web")
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    port = container["ports"][0]
    assert container["readinessProbe"]["httpGet"]["port"] == port["name"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert int(env["PORT"]) == port["containerPort"]
    labels = web["spec"]["template"]["metadata"]["labels"]
    assert web["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = k8s("Service", "shop-web")
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]
    backend = k8s("Ingress", "shop")["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend["service"]["name"] == "shop-web"
    assert backend["service"]["port"]["name"] == service["spec"]["ports"][0]["name"]


def test_one_scheduler_and_a_migrate_job_that_does_not_restart():
    scheduler = k8s("Deployment", "shop-scheduler")
    assert scheduler["spec"]["replicas"] == 1
    assert scheduler["spec"]["strategy"]["type"] == "Recreate"
    job = k8s("Job", "shop-migrate")
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert ["python", "manage.py", "migrate", "--noinput"] in simple_commands(command)


def parse_size(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmM]?)", value).groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024 * 1024}[unit.lower()]


def test_proxies_refuse_bodies_at_the_shops_own_limit():
    ingress = k8s("Ingress", "shop")["metadata"]["annotations"]
    limit = settings.MAX_REQUEST_BYTES
    assert parse_size(ingress["nginx.ingress.kubernetes.io/proxy-body-size"]) == limit
    conf = ROOT / "deploy" / "nginx" / "shop.conf"
    if conf.exists():
        size = re.search(r"client_max_body_size\s+(\w+);", conf.read_text())[1]
        assert parse_size(size) == limit


# --- the Dockerfile -------------------------------------------------------


def test_the_dockerfile_builds_with_the_script_from_the_lock_and_runs_unprivileged():
    instructions = dockerfile_instructions()
    froms = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert froms == ["python:3.11-slim AS builder", "python:3.11-slim AS runtime"]
    runtime = instructions[[k for k, _ in instructions].index("FROM", 1) :]
    builder = instructions[: len(instructions) - len(runtime)]
    runs = " ".join(rest for keyword, rest in builder if keyword == "RUN")
    assert "scripts/build.sh install" in runs and "scripts/build.sh --skip-install" in runs
    assert any(k == "COPY" and "requirements.lock" in rest for k, rest in builder)
    build_script = (ROOT / "scripts" / "build.sh").read_text()
    assert "--require-hashes -r requirements.lock" in build_script
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    copies = [rest for keyword, rest in runtime if keyword == "COPY"]
    assert "--from=builder /opt/venv /opt/venv" in copies
    assert any("/healthz" in rest for keyword, rest in runtime if keyword == "HEALTHCHECK")
    assert ("EXPOSE", "8000") in runtime
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".env", ".git", "media/", "staticfiles/", "db.sqlite3*"} <= set(ignored)


# --- systemd --------------------------------------------------------------


def test_the_systemd_units_verify_and_run_as_the_shop_user():
    units = systemd_units()
    assert {"shop-web", "shop-worker", "shop-scheduler", "shop-release"} == set(units)
    for name, entries in units.items():
        assert entries["User"] == ["shop"], name
        assert entries["EnvironmentFile"] == ["/etc/shop/shop.env"], name
        assert entries["WorkingDirectory"] == ["/srv/shop"], name
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed: the units were parsed, not verified")
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted((ROOT / "deploy/systemd").glob("*"))],
        capture_output=True,
        text=True,
    )
    # The one complaint allowed: /srv/shop/.venv doesn't exist on this machine.
    complaints = [
        line
        for line in done.stderr.splitlines()
        if line.strip()
        and not re.search(r"Command /srv/shop/\.venv/bin/\w+ is not executable", line)
    ]
    assert not complaints, done.stderr


# --- the lock files -------------------------------------------------------


def check_lock(*pairs: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_lock.py"), *pairs],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_the_locks_pin_every_requirement_with_hashes():
    done = check_lock()
    assert done.returncode == 0, done.stderr
    for lock in ("requirements.lock", "requirements-dev.lock"):
        entries = re.split(r"\n(?=[a-z0-9])", (ROOT / lock).read_text().split("\n\n", 1)[-1])
        for entry in entries:
            if "==" in entry.split("\n")[0]:
                assert "--hash=sha256:" in entry, f"{lock}: {entry.splitlines()[0]}"


def test_a_requirement_the_lock_does_not_pin_is_caught(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        (ROOT / "requirements.txt").read_text() + "left-pad-for-python==1.0\nDjango>=99\n"
    )
    done = check_lock(f"{requirements}={ROOT / 'requirements.lock'}")
    assert done.returncode == 1
    assert "names left-pad-for-python, which" in done.stderr
    assert "asks for Django>=99" in done.stderr
    assert "make lock" in done.stderr


# --- every command of the guide -------------------------------------------

REPO_PATH = re.compile(r"^(deploy|scripts|docs)/|^(compose\.yaml|\.env\.example|Dockerfile)$")
SUBCOMMANDS = {
    "docker": {"build", "push", "compose"},
    "kubectl": {"apply", "delete", "wait", "rollout"},
    "systemctl": {"start", "stop", "restart", "reload", "enable", "daemon-reload"},
}
PROGRAMS = {
    "apt-get", "cd", "certbot", "cp", "createdb", "createuser", "docker", "envsubst", "export",
    "find", "git", "install", "kubectl", "kustomize", "ln", "make", "nginx", "python3", "rm",
    "sudoedit", "systemctl", "useradd",
}  # fmt: skip
OTHER_UNITS = {"nginx", "redis-server", "redis-server@ratelimit"}


def guide_commands() -> list[list[str]]:
    """Every simple command of the guide's ``sh`` blocks, sudo and assignments left out."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", GUIDE.read_text(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>")
            lexer.whitespace_split = True
            words: list[str] = []
            for token in [*lexer, ";"]:
                if token in ("&&", "||", "|", ";"):
                    if words:
                        commands.append(words)
                    words = []
                else:
                    words.append(token)
    cleaned = []
    for words in commands:
        while words and (words[0] == "sudo" or "=" in words[0] and words[0][0].isupper()):
            words = words[3:] if words[:2] in (["sudo", "-u"],) else words[1:]
        cleaned.append(words)
    return cleaned


def check_guide_command(words: list[str]) -> None:
    program, args = words[0], words[1:]
    assert program in PROGRAMS or program.startswith("scripts/"), f"unknown program: {words}"
    for word in args + [program]:
        for value in (word, word.partition("=")[2]):
            if REPO_PATH.match(value):
                assert (ROOT / value).exists(), f"{words}: no file {value}"
    if program.startswith("scripts/"):
        assert os.access(ROOT / program, os.X_OK), words
    if program in SUBCOMMANDS:
        verbs = [a for a in args if not a.startswith("-") and a != "duka-tech"]
        assert verbs[0] in SUBCOMMANDS[program], words
    if program == "make":
        targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.M))
        assert set(args) <= targets, words
    if program == "docker" and args[0] == "compose":
        check_compose_command(args[1:])
    if program == "kubectl":
        check_kubectl_command(args)
    if program == "kustomize":
        assert args[:3] == ["edit", "set", "image"] and args[3].split("=")[0] == IMAGE
    if program == "systemctl":
        for unit in args[1:]:
            if unit.startswith("shop-"):
                assert (ROOT / "deploy/systemd" / f"{unit}.service").exists(), words
            else:
                assert unit in OTHER_UNITS or unit.startswith("-"), words
    if program == "envsubst":
        template = (ROOT / "deploy/nginx/shop.conf").read_text()
        assert set(re.findall(r"\$\{\w+\}", args[0])) == set(re.findall(r"\$\{\w+\}", template))
    if program == "export":
        exported = {a.split("=")[0] for a in args}
        assert exported == set(
            re.findall(r"\$\{(\w+)\}", (ROOT / "deploy/nginx/shop.conf").read_text())
        )


def check_compose_command(args: list[str]) -> None:
    config = compose()
    services = config["services"]
    profiles = {p for s in services.values() for p in s.get("profiles", [])}
    while args and args[0].startswith("--"):
        if args[0] == "--profile":
            assert args[1] in profiles, args
            args = args[2:]
        else:
            args = args[1:]
    verb, rest = args[0], args[1:]
    assert verb in {"build", "up", "ps", "logs", "run", "exec"}, args
    named = [a for a in rest if not a.startswith("-")]
    if verb in ("run", "exec"):
        assert named[0] in services, args
        # The service's own command, or a backup program in its container.
        assert len(named) == 1 or named[1] in {"pg_dump", "pg_restore", "tar"}, args
    else:
        assert set(named) <= set(services), args


def check_kubectl_command(args: list[str]) -> None:
    namespace = yaml.safe_load((ROOT / "deploy/k8s/kustomization.yaml").read_text())["namespace"]
    if "--namespace" in args:
        assert args[args.index("--namespace") + 1] == namespace
    objects = {(o["kind"].lower(), o["metadata"]["name"]) for _, o in k8s_objects()}
    if args[0] == "apply":
        assert args[1:3] == ["-k", "deploy/k8s"]
    for arg in args:
        if re.fullmatch(r"(job|deployment)/[\w-]+", arg):
            assert tuple(arg.split("/")) in objects, arg
    if args[2:3] == ["delete"] or args[0] == "delete":
        kind, name = [a for a in args if not a.startswith("-") and a != namespace][1:3]
        assert (kind, name) in objects, args


def test_every_command_in_the_guide_names_real_programs_files_and_objects():
    commands = guide_commands()
    assert len(commands) > 40
    for words in commands:
        check_guide_command(words)
    manage = [w for w in commands if "manage.py" in w]
    for words in manage:
        assert words[words.index("manage.py") + 1] in get_commands(), words


@pytest.mark.parametrize(
    "command",
    [
        "sudo systemctl start shop-frontend",
        "docker compose up -d webserver",
        "kubectl --namespace duka-tech rollout status deployment/shop-api",
        "sudo cp deploy/systemd/shop-cron.service /etc/systemd/system/",
        "terraform apply",
    ],
)
def test_a_wrong_command_in_the_guide_would_be_caught(command):
    words = shlex.split(command.removeprefix("sudo "))
    with pytest.raises(AssertionError):
        check_guide_command(words)


def test_the_guides_nginx_lines_render_a_config_nginx_accepts(tmp_path):
    """Run the guide's export and envsubst lines (this machine's paths) and nginx -t."""
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        pytest.skip("nginx is not installed (make test installs Debian's)")
    if not shutil.which("envsubst"):
        pytest.skip("envsubst (gettext-base) is not installed")
    block = next(
        b for b in re.findall(r"```sh\n(.*?)```", GUIDE.read_text(), re.S) if "envsubst" in b
    )
    lines = [line for line in block.splitlines() if line.startswith(("export ", "envsubst "))]
    assert len(lines) == 2
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", tmp_path / "key.pem", "-out", tmp_path / "cert.pem"],
        check=True, capture_output=True,
    )  # fmt: skip
    swaps = {
        "/etc/letsencrypt/live/shop.example.co.ke/fullchain.pem": str(tmp_path / "cert.pem"),
        "/etc/letsencrypt/live/shop.example.co.ke/privkey.pem": str(tmp_path / "key.pem"),
        "/srv/shop/staticfiles": str(tmp_path / "static"),
        "/srv/shop/media": str(tmp_path / "media"),
        "SHOP_HTTP_LISTEN=80": f"SHOP_HTTP_LISTEN=127.0.0.1:{free_port()}",
        "SHOP_LISTEN='443 ssl'": f"SHOP_LISTEN='127.0.0.1:{free_port()} ssl'",
        "> shop.nginx": f"> {tmp_path / 'shop.nginx'}",
    }
    script = "\n".join(lines)
    for old, new in swaps.items():
        assert old in script, old
        script = script.replace(old, new)
    subprocess.run(["bash", "-euc", script], cwd=ROOT, check=True)
    rendered = (tmp_path / "shop.nginx").read_text()
    assert "${SHOP_" not in rendered
    assert "server unix:/run/shop/gunicorn.sock;" in rendered
    temp = "".join(
        f"{kind}_temp_path {tmp_path / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path / 'nginx.pid'}; error_log {tmp_path / 'error.log'};\n"
        "events {}\n"
        f"http {{ include /etc/nginx/mime.types; access_log off; {temp}\n"
        f"include {tmp_path / 'shop.nginx'}; }}\n"
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    checked = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
