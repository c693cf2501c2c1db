"""The open-api plugin's document passes an OpenAPI 3.1 linter (openapi-spec-validator).

Runs the server binary (BETTER_AUTH_BIN) in stateless mode (DATABASE_URL=none: nothing on
disk) with every plugin and a few additional fields, fetches /open-api/generate-schema and
validates it.
"""

import json
import os
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

from openapi_spec_validator import validate

CONFIG = """
[user.additional_fields.plan]
type = "string"
required = false
default_value = "free"

[session.additional_fields.device]
type = "string"
required = false
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OpenApiDocument(unittest.TestCase):
    def test_document_is_valid_openapi_3_1(self):
        binary = os.environ.get("BETTER_AUTH_BIN")
        self.assertTrue(binary, "BETTER_AUTH_BIN is not set")
        with tempfile.TemporaryDirectory() as work:
            config = os.path.join(work, "auth.toml")
            with open(config, "w") as f:
                f.write(CONFIG)
            port = free_port()
            env = {
                "PATH": os.environ.get("PATH", ""),
                "DATABASE_URL": "none",
                "BETTER_AUTH_DATA_DIR": work,
                "BETTER_AUTH_CONFIG": config,
                "BETTER_AUTH_PLUGINS": "username,anonymous,multi-session,one-time-token,last-login-method,open-api",
                "BETTER_AUTH_URL": f"http://127.0.0.1:{port}",
                "PORT": str(port),
                "BETTER_AUTH_SECRET": "openapi-lint-secret-0123456789abcdef0123",
                "RUST_LOG": "warn",
            }
            server = subprocess.Popen([binary, "serve"], env=env)
            try:
                url = f"http://127.0.0.1:{port}/api/auth/open-api/generate-schema"
                document = None
                for _ in range(100):
                    try:
                        with urllib.request.urlopen(url) as response:
                            document = json.load(response)
                        break
                    except OSError:
                        time.sleep(0.1)
                self.assertIsNotNone(document, "the server did not answer")
                validate(document)  # raises on any violation of the OpenAPI 3.1 schema
                self.assertEqual(document["openapi"], "3.1.1")
                self.assertGreater(len(document["paths"]), 40)
            finally:
                server.terminate()
                server.wait(timeout=10)


if __name__ == "__main__":
    unittest.main()
