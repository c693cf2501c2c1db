"""Structure test of the deployment files (there is no Docker engine to run them here).

docker-compose.yml: the services, their commands, ports, health checks, start order and
environment; .env.example: only names that a binary or the postgres image reads; Dockerfile:
multi-stage, both binaries, non-root, health check through the binary's own subcommand.

    python -m unittest -v test_deploy_files   (from crates/auth/tests/python)
"""

import re
import unittest
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[4]


def read(rel):
    return (ROOT / rel).read_text()


def server_env_names():
    """Environment variables better-auth-server reads: clap `env = "..."` in its configuration
    (crates/auth/src/config/ and the plugins' config.rs files)."""
    src = ROOT / "crates/auth/src"
    files = sorted(src.glob("config/*.rs")) + sorted(src.glob("plugins/**/config.rs"))
    text = "".join(f.read_text() for f in files)
    names = set(re.findall(r'env = "([A-Z0-9_]+)"', text))
    names.add("RUST_LOG")  # tracing's filter
    return names


def api_env_names():
    """Environment variables the example API reads: `env("NAME", default)` in its main.rs."""
    names = set(re.findall(r'env\("([A-Z0-9_]+)"', read("crates/api/src/main.rs")))
    names.add("RUST_LOG")
    return names


POSTGRES_ENV = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}


def env_example():
    names = []
    for line in read(".env.example").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.append(line.split("=", 1)[0])
    return names


class ComposeFile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.text = read("docker-compose.yml")
        cls.compose = yaml.safe_load(cls.text)
        cls.services = cls.compose["services"]

    def test_services(self):
        self.assertEqual(
            set(self.services),
            {"postgres", "redis", "migrate", "better-auth-server", "better-auth-api"},
        )

    def test_redis_is_optional_health_checked_and_persistent(self):
        redis = self.services["redis"]
        self.assertTrue(redis["image"].startswith("redis:"))
        self.assertEqual(redis["profiles"], ["redis"])
        self.assertIn("ping", " ".join(redis["healthcheck"]["test"]))
        self.assertIn("--appendonly", redis["command"])
        self.assertIn("redis-data", self.compose["volumes"])
        # Nothing requires it: without the profile the server keeps sessions in PostgreSQL.
        for name in ("migrate", "better-auth-server", "better-auth-api"):
            self.assertNotIn("redis", self.services[name].get("depends_on", {}))
        self.assertEqual(self.services["better-auth-server"]["environment"]["REDIS_URL"], "${REDIS_URL:-}")

    def test_postgres_is_health_checked(self):
        pg = self.services["postgres"]
        self.assertTrue(pg["image"].startswith("postgres:"))
        self.assertIn("pg_isready", " ".join(pg["healthcheck"]["test"]))
        self.assertEqual(set(pg["environment"]), POSTGRES_ENV)
        self.assertIn("postgres-data", self.compose["volumes"])

    def test_migrate_then_serve_in_order(self):
        migrate = self.services["migrate"]
        server = self.services["better-auth-server"]
        api = self.services["better-auth-api"]
        self.assertEqual(migrate["command"], ["migrate", "up"])
        self.assertEqual(migrate["build"], ".")
        self.assertEqual(migrate["depends_on"]["postgres"]["condition"], "service_healthy")
        self.assertEqual(server["command"][0], "serve")
        self.assertEqual(
            server["depends_on"]["migrate"]["condition"], "service_completed_successfully"
        )
        self.assertEqual(
            api["depends_on"]["better-auth-server"]["condition"], "service_healthy"
        )
        # The subcommands and flags used here exist in the binary.
        main = read("crates/auth/src/main.rs")
        for needle in ("Serve", "no_migrate", "Migrate", "Up", "Healthcheck"):
            self.assertIn(needle, main)
        if "--no-migrate" in server["command"]:
            self.assertIn("no_migrate: bool", main)

    def test_ports_and_health_checks(self):
        server = self.services["better-auth-server"]
        api = self.services["better-auth-api"]
        self.assertIn("3001:3001", server["ports"])
        self.assertIn("8000:8000", api["ports"])
        self.assertEqual(
            server["healthcheck"]["test"],
            ["CMD", "/usr/local/bin/better-auth-server", "healthcheck"],
        )
        self.assertEqual(
            api["healthcheck"]["test"], ["CMD", "/usr/local/bin/better-auth-api", "healthcheck"]
        )
        self.assertIn('"healthcheck"', read("crates/api/src/main.rs"))
        # The metrics port is reachable by a scraper on the compose network, never published.
        self.assertNotIn("9464", " ".join(map(str, server.get("ports", []))))
        # Longer grace than the shutdown timeout so that requests in flight finish.
        grace = int(server["stop_grace_period"].rstrip("s"))
        self.assertGreater(grace, 30)

    def test_environment_is_known_to_the_binaries(self):
        server = self.services["better-auth-server"]["environment"]
        self.assertEqual(server, self.services["migrate"]["environment"])
        unknown = set(server) - server_env_names()
        self.assertEqual(unknown, set(), "server env names that config.rs does not read")
        self.assertTrue(server["DATABASE_URL"].startswith("postgres://"))
        self.assertIn("@postgres:5432/", server["DATABASE_URL"])
        self.assertEqual((server["HOST"], server["PORT"]), ("0.0.0.0", "3001"))
        api = self.services["better-auth-api"]["environment"]
        self.assertEqual(set(api) - api_env_names(), set())
        self.assertTrue(api["BETTER_AUTH_JWKS_URL"].startswith("http://better-auth-server:3001/"))

    def test_interpolated_variables_are_in_env_example(self):
        used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", self.text))
        self.assertTrue(used)
        self.assertEqual(used - set(env_example()), set())
        # The secret has no default: compose refuses to start without it.
        self.assertIn("${BETTER_AUTH_SECRET:?", self.text)


class EnvExample(unittest.TestCase):
    def test_every_name_is_read_by_something(self):
        known = server_env_names() | api_env_names() | POSTGRES_ENV
        names = env_example()
        self.assertIn("BETTER_AUTH_SECRET", names)
        self.assertEqual(len(names), len(set(names)), "duplicates")
        self.assertEqual(set(names) - known, set())

    def test_no_secret_values(self):
        for line in read(".env.example").splitlines():
            if line.startswith(("BETTER_AUTH_SECRET=", "POSTGRES_PASSWORD=")):
                self.assertEqual(line.split("=", 1)[1], "", "ship no secret")


class Dockerfile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lines = [
            l.strip() for l in read("Dockerfile").splitlines() if l.strip() and not l.startswith("#")
        ]

    def instructions(self, name):
        return [l for l in self.lines if l.split()[0].upper() == name]

    def test_multi_stage(self):
        stages = self.instructions("FROM")
        self.assertGreaterEqual(len(stages), 2)
        self.assertRegex(stages[0], r"(?i) AS builder$")
        self.assertTrue(any("--from=builder" in l for l in self.instructions("COPY")))
        text = read("Dockerfile")
        self.assertIn("-p better-auth-server", text)
        self.assertIn("-p better-auth-api", text)
        self.assertIn("--locked", text)

    def test_runs_as_non_root_with_a_health_check(self):
        users = self.instructions("USER")
        self.assertTrue(users)
        self.assertNotIn(users[-1].split()[1], ("root", "0", "0:0"))
        self.assertTrue(any("healthcheck" in l for l in self.instructions("CMD")))
        self.assertIn("HEALTHCHECK", read("Dockerfile"))
        self.assertIn("EXPOSE 3001", self.lines)

    def test_build_context_leaves_out_builds_and_secrets(self):
        ignored = read(".dockerignore").split()
        for entry in ("target", ".git", "**/node_modules", ".env"):
            self.assertIn(entry, ignored)


if __name__ == "__main__":
    unittest.main()
