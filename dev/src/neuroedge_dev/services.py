"""PostgreSQL (with pgvector) and Redis for the dev stack, each on a free loopback port.

Both require passwords, like production: the operator provisions per-tenant PostgreSQL roles and Redis ACL
users, and isolation tests only mean something when the default users are not open to everyone.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import redis

from neuroedge_dev import procs, toolchain

DATABASE = "neuroedge"
UNPRIVILEGED_USER = "nobody"


@dataclass(frozen=True)
class Service:
    """A started service: its daemon and the URL clients use (credentials included)."""

    pid: int
    port: int
    url: str
    log: Path


def _secret(path: Path) -> str:
    """A generated password kept in the state directory (mode 0600), stable across restarts of the stack."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def _postgres_user() -> str | None:
    """PostgreSQL refuses to run as root; when we are root it runs as an unprivileged system user."""
    return UNPRIVILEGED_USER if os.geteuid() == 0 else None


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)]:
            os.chown(name, entry.pw_uid, entry.pw_gid)


def _check_reachable(path: Path, user: str) -> None:
    """Fail with one clear line when `user` cannot traverse into `path` (e.g. a 0700 parent directory)."""
    probe = subprocess.run(["test", "-x", str(path)], user=user, check=False)
    if probe.returncode != 0:
        raise procs.StackError(
            f"PostgreSQL runs as user {user!r} and cannot reach {path}: "
            "choose a state directory whose parents are world-traversable (e.g. under /tmp or the checkout)"
        )


def start_postgres(state: Path, port: int) -> Service:
    """Initialise (once) and start PostgreSQL, then create the `neuroedge` database if missing."""
    bindir = toolchain.postgres_bin_dir()
    user = _postgres_user()
    home = state / "postgres"
    data = home / "data"
    password = _secret(state / "secrets" / "postgres-password")
    log = state / "logs" / "postgres.log"
    if not (data / "PG_VERSION").exists():
        if data.exists():
            shutil.rmtree(data)
        home.mkdir(parents=True, exist_ok=True)
        if user:
            _check_reachable(home, user)
        pwfile = home / "pwfile"
        pwfile.write_text(password + "\n")
        if user:
            _chown_tree(home, user)
        proc = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--pwfile",
                str(pwfile),
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            user=user,
            capture_output=True,
            text=True,
            check=False,
        )
        pwfile.unlink()
        if proc.returncode != 0:
            raise procs.StackError(f"initdb failed: {proc.stderr.strip()}")
    argv = [
        str(bindir / "postgres"),
        "-D",
        str(data),
        "-p",
        str(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "unix_socket_directories=",
        "-c",
        "max_connections=300",
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "shared_buffers=128MB",
    ]
    pid = procs.spawn(argv, log, user=user, cwd=home)
    env = {**os.environ, "PGPASSWORD": password}
    procs.wait_until(
        "postgres",
        lambda: (
            subprocess.run(
                [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)], check=False
            ).returncode
            == 0
        ),
        timeout=60,
        pid=pid,
        log=log,
    )
    psql = [
        str(bindir / "psql"),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-U",
        "postgres",
        "-v",
        "ON_ERROR_STOP=1",
        "-tA",
    ]
    exists = subprocess.run(
        [*psql, "-c", "SELECT 1 FROM pg_database WHERE datname = 'neuroedge'"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if exists != "1":
        subprocess.run([*psql, "-c", f"CREATE DATABASE {DATABASE}"], env=env, capture_output=True, check=True)
    url = f"postgresql://postgres:{password}@127.0.0.1:{port}/{DATABASE}"
    return Service(pid=pid, port=port, url=url, log=log)


def start_redis(state: Path, port: int) -> Service:
    """Start Redis 7 with a password on the default user and no persistence (state is rebuilt by the
    operator's drift repair, exactly as it would be after a cache flush in production)."""
    server = toolchain.redis_server()
    password = _secret(state / "secrets" / "redis-password")
    workdir = state / "redis"
    workdir.mkdir(parents=True, exist_ok=True)
    log = state / "logs" / "redis.log"
    config = workdir / "redis.conf"
    config.write_text(
        "\n".join(
            [
                f"port {port}",
                "bind 127.0.0.1",
                "protected-mode yes",
                'save ""',
                "appendonly no",
                f"dir {workdir}",
                f"requirepass {password}",
                "maxclients 4000",
                "",
            ]
        )
    )
    config.chmod(0o600)
    pid = procs.spawn([str(server), str(config)], log, cwd=workdir)
    url = f"redis://default:{password}@127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_timeout=1)
    procs.wait_until("redis", lambda: bool(client.ping()), timeout=30, pid=pid, log=log)
    client.close()
    return Service(pid=pid, port=port, url=url, log=log)
