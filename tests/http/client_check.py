"""Drives wuzhang's HTTP/JSON API as a mini-program or a browser would, with `requests`
(PyPI) with sseclient-py, websockets and openapi-spec-validator, clients this project did not write: a resident reports, reads, lists, follows
the ticket's events as Server-Sent Events, drops the stream, cancels, and resumes with
Last-Event-ID missing nothing; bad input gets a 4xx naming the field and writes nothing;
a command center reads its overview and ticket list.

Run by tests/tests/http_api.rs against a started server with the small test tree:

    python client_check.py --base-url http://127.0.0.1:PORT --resident TOKEN \
        --other TOKEN --command-center TOKEN --subdistrict 220102001
"""

import argparse
import json
import re
import sys

import requests
import sseclient
from websockets.exceptions import ConnectionClosedOK, InvalidStatus
from websockets.sync.client import connect
from openapi_spec_validator import validate


def fail(what, response=None):
    detail = ""
    if response is not None:
        detail = f" [{response.status_code}] {response.text[:500]}"
    print(f"FAIL: {what}{detail}")
    sys.exit(1)


def check(cond, what, response=None):
    if not cond:
        fail(what, response)


def violations(response):
    body = response.json()
    fields = []
    for d in body.get("details", []):
        if d.get("@type") == "type.googleapis.com/google.rpc.BadRequest":
            fields += [v["field"] for v in d.get("fieldViolations", [])]
    return fields


def events(response, want=None):
    """Server-Sent Events (id, event, data) read by sseclient-py from a streamed
    response, up to `want` of them (all, until the server ends the stream, when None)."""
    out = []
    for e in sseclient.SSEClient(response).events():
        out.append({"id": e.id, "event": e.event, "data": e.data})
        if want is not None and len(out) >= want:
            break
    return out


def openapi(s, base):
    """The OpenAPI document is valid OpenAPI 3 (openapi-spec-validator) and every path in
    it answers: without a token, each method of each path reaches the server's handlers
    (401), not a missing route (404) or method (405)."""
    r = s.get(f"{base}/openapi.json", timeout=30)
    check(r.status_code == 200, "GET /openapi.json", r)
    doc = r.json()
    validate(doc)
    n = 0
    for path, item in doc["paths"].items():
        url = base + re.sub(r"\{[^}]+\}", "x", path)
        for method in item:
            r = s.request(method.upper(), url, timeout=30)
            check(r.status_code == 401, f"{method.upper()} {path} answers", r)
            n += 1
    check(n > 40, f"{n} operations")
    print(f"ok: OpenAPI document valid, its {n} operations answer")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base-url", required=True)
    p.add_argument("--resident", required=True)
    p.add_argument("--other", required=True)
    p.add_argument("--command-center", required=True)
    p.add_argument("--subdistrict", required=True)
    a = p.parse_args()
    base = a.base_url.rstrip("/")
    s = requests.Session()
    me = {"Authorization": f"Bearer {a.resident}"}
    other = {"Authorization": f"Bearer {a.other}"}
    cc = {"Authorization": f"Bearer {a.command_center}"}

    report = {
        "requestId": "http-1",
        "categoryCode": "E0102",
        "description": "楼道堆放杂物 (HTTP)",
        "location": {"lat": 43.807, "lng": 125.307, "crs": "CRS_WGS84"},
        "contactPhone": "13812345678",
    }
    r = s.post(f"{base}/v1/incidents", json=report, headers=me, timeout=30)
    check(r.status_code == 200, "SubmitIncident over HTTP", r)
    check(r.headers["content-type"].startswith("application/json"), "JSON answer", r)
    ticket = r.json()
    tid = ticket["id"]
    check(ticket["state"] == "TICKET_STATE_ASSIGNED", "routed at once", r)
    check(ticket["gridCode"] == "220102001001001", "in grid 1", r)
    print(f"ok: submitted {tid}")

    # A retry is the same ticket (idempotent on requestId), proto field names accepted.
    retry = dict(report)
    del retry["requestId"]
    retry["request_id"] = "http-1"
    r = s.post(f"{base}/v1/incidents", json=retry, headers=me, timeout=30)
    check(r.status_code == 200 and r.json()["id"] == tid, "retry gives the same ticket", r)

    r = s.get(f"{base}/v1/incidents/{tid}", headers=me, timeout=30)
    check(r.status_code == 200 and r.json()["id"] == tid, "GetIncident", r)
    r = s.get(f"{base}/v1/incidents", params={"pageSize": 10}, headers=me, timeout=30)
    check(r.status_code == 200, "ListMyIncidents", r)
    mine = r.json()
    check([t["id"] for t in mine.get("tickets", [])] == [tid], "my one ticket", r)
    check(mine.get("totalSize") in (1, "1"), "total", r)
    print("ok: read and listed")

    # Another resident does not see it; no token is 401.
    r = s.get(f"{base}/v1/incidents/{tid}", headers=other, timeout=30)
    check(r.status_code == 404 and r.json()["code"] == 5, "out of scope is NOT_FOUND", r)
    r = s.get(f"{base}/v1/incidents/{tid}", timeout=30)
    check(r.status_code == 401 and r.json()["code"] == 16, "no token is 401", r)
    print("ok: scope and authentication")

    # Bad input: 4xx, the field named, nothing written.
    bad = [
        (b"{not json", "application/json", 400, "body"),
        (b"\xff\xfe", "application/json", 400, "body"),
        (json.dumps({**report, "requestId": "b1", "colour": "red"}), "application/json", 400, "colour"),
        (json.dumps({**report, "requestId": "b2", "description": 5}), "application/json", 400, "description"),
        (json.dumps({**report, "requestId": "b3", "location": {"lat": "north"}}), "application/json", 400, "location.lat"),
        (json.dumps({**report, "requestId": "b4", "categoryCode": ""}), "application/json", 400, "category_code"),
        (json.dumps({**report, "requestId": "b5"}), "text/plain", 415, "content-type"),
        (json.dumps({**report, "requestId": "b6", "description": "x" * (5 << 20)}), "application/json", 413, "body"),
    ]
    for body, ctype, status, field in bad:
        r = s.post(
            f"{base}/v1/incidents",
            data=body,
            headers={**me, "Content-Type": ctype},
            timeout=30,
        )
        check(r.status_code == status, f"bad input {field}: status {status}", r)
        check(field in violations(r), f"bad input names {field}", r)
    r = s.get(f"{base}/v1/incidents", headers=me, timeout=30)
    check(len(r.json().get("tickets", [])) == 1, "bad input wrote nothing", r)
    r = s.delete(f"{base}/v1/incidents", headers=me, timeout=30)
    check(r.status_code == 405, "a method the path does not take", r)
    r = s.get(f"{base}/v1/nowhere", headers=me, timeout=30)
    check(r.status_code == 404, "a path with no method", r)
    print("ok: bad input refused, field named, nothing written")

    # Uploads: a raw body with the metadata in the query string, and a form as a browser
    # posts it; the bytes are checked against the type claimed.
    png = bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) + bytes(200)
    r = s.post(
        f"{base}/v1/media",
        params={"requestId": "up-raw", "filename": "a.png"},
        data=png,
        headers={**me, "Content-Type": "image/png"},
        timeout=30,
    )
    check(r.status_code == 200, "UploadMedia, raw body", r)
    raw = r.json()
    check(raw["contentType"] == "image/png" and raw["sizeBytes"] == "208", "stored as sent", r)
    got = s.get(raw["url"], timeout=30)
    check(got.status_code == 200 and got.content == png, "the upload reads back", got)
    r = s.post(
        f"{base}/v1/media",
        data={"requestId": "up-form"},
        files={"file": ("b.png", png, "image/png")},
        headers=me,
        timeout=30,
    )
    check(r.status_code == 200 and r.json()["url"] == raw["url"], "UploadMedia, form (same bytes, same URL)", r)
    r = s.post(
        f"{base}/v1/media",
        params={"requestId": "up-bad"},
        data=png,
        headers={**me, "Content-Type": "image/jpeg"},
        timeout=30,
    )
    check(r.status_code == 400 and "metadata.content_type" in violations(r), "a PNG claimed as JPEG", r)
    r = s.post(f"{base}/v1/media", data={"requestId": "up-nofile"}, files={"x": ("", b"")}, headers=me, timeout=30)
    check(r.status_code == 400, "a form without a file", r)
    print("ok: uploads, raw and as a form")

    # Follow the ticket's events, drop the stream, act, resume: nothing missed.
    with s.get(
        f"{base}/v1/incidents/{tid}:watch",
        headers={**me, "Accept": "text/event-stream"},
        stream=True,
        timeout=30,
    ) as r:
        check(r.status_code == 200, "WatchIncident as SSE", r)
        check(r.headers["content-type"].startswith("text/event-stream"), "event stream", r)
        first = events(r, want=2)
    check(len(first) == 2, f"two events so far: {first}")
    kinds = [json.loads(e["data"])["kind"] for e in first]
    check(kinds == ["EVENT_KIND_SUBMITTED", "EVENT_KIND_ASSIGNED"], f"kinds {kinds}")
    check([e.get("id") for e in first] == ["1", "2"], f"ids are the seqs: {first}")
    r = s.post(
        f"{base}/v1/incidents/{tid}:cancel",
        json={"requestId": "http-c1", "reason": "已自行处理"},
        headers=me,
        timeout=30,
    )
    check(r.status_code == 200 and r.json()["state"] == "TICKET_STATE_CANCELLED", "cancel", r)
    with s.get(
        f"{base}/v1/incidents/{tid}:watch",
        headers={**me, "Accept": "text/event-stream", "Last-Event-ID": first[-1]["id"]},
        stream=True,
        timeout=30,
    ) as r:
        check(r.status_code == 200, "resume", r)
        rest = events(r)  # the stream ends after the final state's event
    seqs = [int(e["id"]) for e in rest]
    check(seqs and seqs[0] == 3 and seqs == list(range(3, 3 + len(seqs))), f"resumed at 3, gap-free: {seqs}")
    check(json.loads(rest[-1]["data"])["kind"] == "EVENT_KIND_CANCELLED", f"ends cancelled: {rest}")
    print(f"ok: watched, dropped, resumed with Last-Event-ID: seqs {seqs}")

    # The same stream over WebSocket, as a mini-program opens it (wx.connectSocket with
    # the Authorization header), and as a browser does (the token as a subprotocol).
    ws_base = base.replace("http://", "ws://", 1)
    with connect(f"{ws_base}/v1/incidents/{tid}:watch", additional_headers=me) as ws:
        got = []
        try:
            while True:
                got.append(json.loads(ws.recv(timeout=10)))
        except ConnectionClosedOK:
            pass
    check([int(e["seq"]) for e in got] == [1, 2, 3], f"WebSocket: the whole history, then closed: {got}")
    with connect(
        f"{ws_base}/v1/incidents/{tid}:watch?afterSeq=2",
        subprotocols=[f"wuzhang.bearer.{a.resident}"],
    ) as ws:
        check(ws.subprotocol == f"wuzhang.bearer.{a.resident}", "the token's subprotocol selected")
        got = json.loads(ws.recv(timeout=10))
        check(got["kind"] == "EVENT_KIND_CANCELLED", f"WebSocket resumed after seq 2: {got}")
    try:
        connect(f"{ws_base}/v1/incidents/{tid}:watch", additional_headers=other)
        fail("another resident's WebSocket was opened")
    except InvalidStatus as e:
        check(e.response.status_code == 404, f"another resident's watch is 404: {e}")
    print("ok: the stream over WebSocket, resumed, out of scope refused")

    # The command center's screen reads.
    r = s.get(f"{base}/v1/subdistricts/{a.subdistrict}/overview", headers=cc, timeout=30)
    check(r.status_code == 200 and r.json()["subdistrictCode"] == a.subdistrict, "GetOverview", r)
    r = s.get(
        f"{base}/v1/tickets",
        params={"subdistrictCode": a.subdistrict, "states": "TICKET_STATE_CANCELLED"},
        headers=cc,
        timeout=30,
    )
    check(r.status_code == 200, "ListTickets", r)
    check([t["id"] for t in r.json().get("tickets", [])] == [tid], "the cancelled ticket", r)
    r = s.get(f"{base}/v1/subdistricts/999999999/overview", headers=cc, timeout=30)
    check(r.status_code == 404, "another subdistrict is NOT_FOUND", r)
    print("ok: command center")

    openapi(s, base)
    print("all ok")


if __name__ == "__main__":
    main()
