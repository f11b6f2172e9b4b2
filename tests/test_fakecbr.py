"""Checks that the fake CBR/IAM server behaves as the project's tests assume."""

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from fakecbr import FakeCBR, Reply

PROJECT = "proj-1"
USER = ("alice", "s3cret", "acme")


@pytest.fixture
def fake() -> Iterator[FakeCBR]:
    with FakeCBR(iam_users={USER}) as server:
        yield server


def get_log(fake: FakeCBR, log_id: str, token: str | None = None, project: str = PROJECT):
    headers = {"X-Auth-Token": token} if token else {}
    url = f"{fake.base_url}/v3/{project}/operation-logs/{log_id}"
    return requests.get(url, headers=headers, timeout=5)


def get_token(fake: FakeCBR, user: tuple[str, str, str] = USER, project: str = PROJECT):
    name, password, domain = user
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": name, "password": password, "domain": {"name": domain}}
                },
            },
            "scope": {"project": {"id": project}},
        }
    }
    return requests.post(f"{fake.base_url}/v3/auth/tokens", json=body, timeout=5)


def test_stored_log_is_served_and_requests_are_recorded(fake: FakeCBR) -> None:
    fake.add_log({"id": "op-1", "status": "success"})
    response = get_log(fake, "op-1", token="abc")
    assert response.status_code == 200
    assert response.json() == {"operation_log": {"id": "op-1", "status": "success"}}
    [recorded] = fake.cbr_requests("op-1")
    assert recorded.path == f"/v3/{PROJECT}/operation-logs/op-1"
    assert recorded.headers["x-auth-token"] == "abc"
    assert fake.cbr_requests("other") == []


def test_not_found_and_unknown_api(fake: FakeCBR) -> None:
    response = get_log(fake, "missing")
    assert response.status_code == 404
    assert response.json()["error_code"] == "BackupService.6500"
    for method, path in [("GET", "/v3/p/operation-log"), ("DELETE", "/v3/p/operation-logs/x")]:
        response = requests.request(method, fake.base_url + path, timeout=5)
        assert (response.status_code, response.json()["error_code"]) == (404, "APIGW.0101")


def test_script_runs_in_order_then_falls_back_to_stored_log(fake: FakeCBR) -> None:
    fake.add_log({"id": "op-1"})
    fake.script("op-1", Reply(429, {"error_code": "APIGW.0308"}, {"Retry-After": "2"}), Reply(500))
    first, second, third = (get_log(fake, "op-1") for _ in range(3))
    assert (first.status_code, first.headers["Retry-After"]) == (429, "2")
    assert second.status_code == 500
    assert third.json() == {"operation_log": {"id": "op-1"}}


def test_static_token_auth_is_checked_before_script() -> None:
    with FakeCBR(require_auth=True, static_token="static") as fake:
        fake.script("op-1", Reply(body={"operation_log": {"id": "op-1"}}))
        missing, wrong = get_log(fake, "op-1"), get_log(fake, "op-1", token="wrong")
        assert missing.status_code == wrong.status_code == 401
        assert missing.json()["error_msg"].endswith("x-auth-token not found")
        assert wrong.json()["error_code"] == "APIGW.0301"
        assert get_log(fake, "op-1", token="static").status_code == 200


def test_iam_token_issue_use_revoke_and_project_scope() -> None:
    with FakeCBR(require_auth=True, iam_users={USER}) as fake:
        issued = get_token(fake)
        assert issued.status_code == 201
        token = issued.headers["X-Subject-Token"]
        expires_at = issued.json()["token"]["expires_at"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}000Z", expires_at)
        assert fake.issued_tokens == [token] and len(fake.token_requests()) == 1
        fake.add_log({"id": "op-1"})
        assert get_log(fake, "op-1", token=token).status_code == 200
        assert get_log(fake, "op-1", token=token, project="proj-2").status_code == 401
        fake.revoke_tokens()
        assert get_log(fake, "op-1", token=token).status_code == 401


def test_iam_rejects_bad_credentials_and_malformed_body(fake: FakeCBR) -> None:
    assert get_token(fake, ("alice", "nope", "acme")).status_code == 401
    url = f"{fake.base_url}/v3/auth/tokens"
    assert requests.post(url, data=b"{", timeout=5).status_code == 400
    fake.iam_script.append(Reply(500))
    assert get_token(fake).status_code == 500
    assert get_token(fake).status_code == 201


def test_broken_connections(fake: FakeCBR) -> None:
    fake.script(
        "op-1", Reply(body={"operation_log": {"id": "op-1"}}, cut_after=5), Reply(reset=True)
    )
    broken = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)
    for _ in range(2):
        with pytest.raises(broken):
            get_log(fake, "op-1")


def test_many_concurrent_clients_with_latency_and_prompt_stop() -> None:
    fake = FakeCBR(latency=0.2).start()
    fake.add_log({"id": "op-1"})
    session = requests.Session()  # leaves a keep-alive connection open across stop()
    started = time.monotonic()
    with ThreadPoolExecutor(64) as pool:
        statuses = list(pool.map(lambda _: get_log(fake, "op-1").status_code, range(64)))
    assert statuses == [200] * 64
    # Answered side by side: at least one latency, far less than 64 of them one after another
    assert 0.2 <= time.monotonic() - started < 64 * 0.2 / 2
    session.get(f"{fake.base_url}/v3/p/operation-logs/op-1", timeout=5)
    base_url = fake.base_url
    stopping = threading.Thread(target=fake.stop)  # returns although a connection is open...
    stopping.start()
    stopping.join(timeout=60)  # (a stop that waited for the connection would never return)
    assert not stopping.is_alive()
    with pytest.raises(requests.exceptions.ConnectionError):  # ...and nothing answers any more
        requests.get(f"{base_url}/v3/p/operation-logs/op-1", timeout=5)
    session.close()


def test_list_filters_pages_newest_first_and_refuses_bad_parameters(fake: FakeCBR) -> None:
    for n, day in enumerate(
        ["2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z", "2026-01-03T10:00:00Z"]
    ):
        fake.add_log({"id": f"op-{n}", "created_at": day, "status": "success" if n else "failed"})
    url = f"{fake.base_url}/v3/{PROJECT}/operation-logs"
    window = {"start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-02T23:59:59Z"}
    page = requests.get(url, params={**window, "limit": 1, "offset": 0}, timeout=5).json()
    assert ([log["id"] for log in page["operation_logs"]], page["count"]) == (["op-1"], 2)
    page = requests.get(url, params={**window, "limit": 1, "offset": 1}, timeout=5).json()
    assert [log["id"] for log in page["operation_logs"]] == ["op-0"]
    page = requests.get(url, params={"status": "success"}, timeout=5).json()
    assert [log["id"] for log in page["operation_logs"]] == ["op-2", "op-1"]
    for bad in ({"limit": 1001}, {"offset": -1}, {"start_time": "2026-01-01"}):
        response = requests.get(url, params=bad, timeout=5)
        assert (response.status_code, response.json()["error_code"]) == (400, "BackupService.9900")
    assert len(fake.list_requests()) == 6
