"""The pytest fixture's own tests: run with ``AGENTSEND_BIN=... python3 -m pytest clients/python``."""

import json
import urllib.error
import urllib.request

from agentsend_fixture import start_agentsend



def call(server, method, path, body=None, key=None):
    request = urllib.request.Request(
        f"{server.http}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key or server.api_key}",
                 "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def test_the_fixture_serves_with_its_key(agentsend):
    status, account = call(agentsend, "GET", "/account")
    assert status == 200
    assert account["id"] == agentsend.account_id
    status, inbox = call(agentsend, "POST", "/inboxes", {"address": "agent"})
    assert status == 201
    assert inbox["address"].startswith("agent@")


def test_two_fixtures_are_apart():
    a, b = start_agentsend(), start_agentsend()
    try:
        assert a.http != b.http and a.smtp != b.smtp
        assert call(a, "GET", "/account", key=b.api_key)[0] == 401
    finally:
        a.stop()
        b.stop()
    assert a.process.returncode == 0 and b.process.returncode == 0


def test_a_bad_start_says_why():
    try:
        start_agentsend("--api-key", "nope")
    except RuntimeError as e:
        assert "--api-key" in str(e)
    else:
        raise AssertionError("a malformed key starts nothing")


def test_the_fixture_token_resets(agentsend):
    assert call(agentsend, "POST", "/inboxes", {"address": "gone"})[0] == 201
    status, body = call(agentsend, "POST", "/_fixture/reset", key=agentsend.fixture_token)
    assert status == 200 and body == {"inboxes": {}}
    assert call(agentsend, "GET", "/inboxes")[1]["total"] == 0


def test_a_fixed_key():
    key = "ask_" + "p" * 40
    server = start_agentsend("--api-key", key)
    try:
        assert server.api_key == key
        assert call(server, "GET", "/account")[0] == 200
    finally:
        server.stop()
