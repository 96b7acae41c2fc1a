"""AgentSend as a pytest fixture: each test (or module, or session) gets its own server.

Put this file next to your tests (or install it) and enable it in ``conftest.py``::

    pytest_plugins = ["agentsend_fixture"]

    def test_send(agentsend):
        r = requests.post(f"{agentsend.http}/inboxes", json={"address": "agent"},
                          headers={"Authorization": f"Bearer {agentsend.api_key}"})

The binary is ``$AGENTSEND_BIN``, else ``agentsend`` on the ``PATH``. ``start_agentsend()`` is
the same without the fixture; ``fixture_token`` opens ``POST /_fixture/reset`` and
``GET /_fixture/outbox``. Needs only pytest.
"""

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field

import pytest


@dataclass
class AgentSend:
    """A running ``agentsend fixture``: where to reach it and how to stop it."""

    http: str
    smtp: str
    api_key: str
    account_id: str
    fixture_token: str
    inboxes: dict = field(default_factory=dict)
    process: subprocess.Popen = None

    def stop(self):
        """Closes the fixture's stdin (it stops and removes its database) and waits."""
        if self.process is None:
            return
        if not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # SIGTERM still cleans up; SIGKILL would leave the directory to the next fixture.
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_agentsend(*args, binary=None):
    """Starts ``agentsend fixture ARGS`` and returns once it is ready."""
    binary = binary or os.environ.get("AGENTSEND_BIN", "agentsend")
    # Its log goes to a file nobody reads unless it fails to start (a pipe would fill up).
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [binary, "fixture", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    line = process.stdout.readline()
    if not line:
        process.wait()
        log.seek(0)
        why = log.read().decode(errors="replace").strip()
        raise RuntimeError(f"agentsend fixture exited with {process.returncode} before ready: {why}")
    log.close()
    ready = json.loads(line)
    return AgentSend(
        http=ready["http"],
        smtp=ready["smtp"],
        api_key=ready["apiKey"],
        account_id=ready["accountId"],
        fixture_token=ready["fixtureToken"],
        inboxes=ready.get("inboxes", {}),
        process=process,
    )


@pytest.fixture
def agentsend():
    """A fresh AgentSend server for one test."""
    server = start_agentsend()
    try:
        yield server
    finally:
        server.stop()
