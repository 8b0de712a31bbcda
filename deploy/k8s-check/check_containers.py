#!/usr/bin/env python3
"""Our own rules for deploy/docker/Dockerfile and compose.yaml (hadolint does the rest).

    check_containers.py DOCKERFILE COMPOSE_FILE

Dockerfile: multi-stage; every base image pinned to a version (or digest); one final
target per service whose effective USER is a numeric non-root id, which copies only its
own binary from the build stage, runs it as ENTRYPOINT and exposes its gRPC and metrics
ports, and its HTTP port if it has one (intake: web forms, webhooks), bound on all
interfaces by ENV. compose.yaml: every Shangji service builds its own target, with a
read-only root filesystem and all capabilities dropped; an HTTP port is published and bound
on all interfaces, and X-Forwarded-For is not trusted (no proxy in front); third-party
images pinned. Exit 1 on failure.
"""

import re
import sys

import yaml

SERVICES = {
    "intake": (50051, 9151),
    "dedup": (50052, 9152),
    "assignment": (50053, 9153),
    "pipeline": (50054, 9154),
    "reminders": (50055, 9155),
    "analytics": (50056, 9156),
}
# Services with an HTTP listener besides gRPC and metrics: the variable that binds it, and
# its port. The service's default binds loopback, unreachable from outside a container.
HTTP_LISTENERS = {"intake": ("SHANGJI_INTAKE_HTTP_ADDR", 8051)}


def pinned(image):
    if "@sha256:" in image:
        return True
    _, _, tag = image.rpartition(":")
    return bool(re.search(r"\d", tag)) and tag != "latest" and "/" not in tag


def parse_stages(path):
    """[{name, base, lines:[(instruction, args)]}] with line continuations joined."""
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"\\\n", " ", f.read())
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            match = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.I)
            stages.append({"base": match.group(1), "name": match.group(2), "lines": []})
        elif stages:
            stages[-1]["lines"].append((instruction, args.strip()))
    return stages


def effective_user(stages, stage):
    """The USER in force at the end of a stage, following FROM <earlier stage>."""
    by_name = {s["name"]: s for s in stages if s["name"]}
    chain = []
    while stage is not None:
        chain.append(stage)
        stage = by_name.get(stage["base"])
    for s in chain:
        users = [args for instruction, args in s["lines"] if instruction == "USER"]
        if users:
            return users[-1]
    return None


def stage_env(stages, stage):
    """ENV in force at the end of a stage, following FROM <earlier stage>."""
    by_name = {s["name"]: s for s in stages if s["name"]}
    chain = []
    while stage is not None:
        chain.append(stage)
        stage = by_name.get(stage["base"])
    env = {}
    for s in reversed(chain):
        for instruction, args in s["lines"]:
            if instruction != "ENV":
                continue
            if "=" in args.split()[0]:
                env.update(pair.split("=", 1) for pair in args.split())
            else:  # legacy `ENV KEY value with spaces`
                key, _, value = args.partition(" ")
                env[key] = value.strip()
    return env


def wildcard_bind(addr, port):
    host, _, bound = str(addr or "").strip().rpartition(":")
    return host in ("0.0.0.0", "[::]") and bound == str(port)


def published_container_ports(ports):
    """Container ports of compose `ports:` entries (short or long syntax)."""
    found = set()
    for entry in ports or []:
        if isinstance(entry, dict):
            found.add(str(entry.get("target")))
        else:
            found.add(str(entry).split("/")[0].rsplit(":", 1)[-1])
    return found


def check_dockerfile(path, failures):
    stages = parse_stages(path)
    names = {s["name"] for s in stages if s["name"]}
    if len(stages) < 2:
        failures.append(f"{path}: not a multi-stage build")
    for stage in stages:
        if stage["base"] not in names and not pinned(stage["base"]):
            failures.append(f"{path}: base image {stage['base']} is not pinned to a version")
    by_name = {s["name"]: s for s in stages if s["name"]}
    for service, (grpc, metrics) in SERVICES.items():
        stage = by_name.get(service)
        if stage is None:
            failures.append(f"{path}: no target `{service}`")
            continue
        user = effective_user(stages, stage) or ""
        uid = user.split(":")[0]
        if not uid.isdigit() or uid == "0":
            failures.append(f"{path}: target {service} runs as {user or 'root'}; use a numeric non-root USER")
        copies = [a for i, a in stage["lines"] if i == "COPY"]
        if not any(f"shangji-{service}" in c and "--from=" in c for c in copies):
            failures.append(f"{path}: target {service} does not copy shangji-{service} from the build stage")
        if any(re.search(r"shangji-(?!%s\b)\w+" % service, c) for c in copies):
            failures.append(f"{path}: target {service} copies another service's binary")
        entry = " ".join(a for i, a in stage["lines"] if i == "ENTRYPOINT")
        if f"shangji-{service}" not in entry:
            failures.append(f"{path}: target {service} has no ENTRYPOINT running shangji-{service}")
        exposed = " ".join(a for i, a in stage["lines"] if i == "EXPOSE").split()
        http = HTTP_LISTENERS.get(service)
        for port in (grpc, metrics) + ((http[1],) if http else ()):
            if str(port) not in exposed:
                failures.append(f"{path}: target {service} does not EXPOSE {port}")
        if http:
            var, port = http
            if not wildcard_bind(stage_env(stages, stage).get(var), port):
                failures.append(f"{path}: target {service} must set ENV {var}=0.0.0.0:{port}")


def check_compose(path, failures):
    with open(path, encoding="utf-8") as f:
        compose = yaml.safe_load(f)
    services = compose.get("services") or {}
    for name, service in services.items():
        if name in SERVICES:
            build = service.get("build") or {}
            if build.get("target") != name or not str(build.get("dockerfile", "")).endswith("deploy/docker/Dockerfile"):
                failures.append(f"{path}: {name} must build target {name} of deploy/docker/Dockerfile")
            if service.get("read_only") is not True:
                failures.append(f"{path}: {name} must set read_only: true")
            if "ALL" not in (service.get("cap_drop") or []):
                failures.append(f"{path}: {name} must drop ALL capabilities")
            env = service.get("environment") or {}
            if "SHANGJI_NATS_URL" not in env or "SHANGJI_DATABASE_URL" not in env:
                failures.append(f"{path}: {name} needs SHANGJI_NATS_URL and SHANGJI_DATABASE_URL")
            if name in HTTP_LISTENERS:
                check_compose_http(path, name, service, env, failures)
        elif "image" in service and not pinned(service["image"]):
            failures.append(f"{path}: {name} image {service['image']} is not pinned")
    missing = set(SERVICES) - set(services)
    if missing:
        failures.append(f"{path}: services missing: {sorted(missing)}")


def check_compose_http(path, name, service, env, failures):
    var, port = HTTP_LISTENERS[name]
    if str(port) not in published_container_ports(service.get("ports")):
        failures.append(f"{path}: {name} must publish its HTTP port {port} (web forms, webhooks)")
    if not wildcard_bind(env.get(var), port):
        failures.append(f"{path}: {name} must set {var}: 0.0.0.0:{port}")
    # Nothing in compose sets X-Forwarded-For: trusting it would let every client pick
    # the address its rate limit is counted under.
    trust = f"SHANGJI_{name.upper()}_HTTP_TRUST_FORWARDED_FOR"
    if str(env.get(trust, "false")).strip().lower() == "true":
        failures.append(f"{path}: {name} must not set {trust}: no proxy sets X-Forwarded-For here")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    failures = []
    check_dockerfile(sys.argv[1], failures)
    check_compose(sys.argv[2], failures)
    for failure in failures:
        print(f"FAIL {failure}")
    if failures:
        sys.exit(1)
    print(f"ok   {sys.argv[1]} and {sys.argv[2]} pass our rules")


if __name__ == "__main__":
    main()
