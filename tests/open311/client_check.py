#!/usr/bin/env python3
"""Drive a wuzhang Open311 GeoReport v2 endpoint with real Open311 client libraries.

civicbot's Open311Client (JSON) does the whole round trip through its own calls: list
services, get one service's definition, post a request, read it back by id, list
requests with the spec's filters, resolve the token, and see a bad api_key refused.
georeport's GeoReport reads the services in XML as an anonymous client, and checks that
an anonymous client cannot read the new request (wuzhang shows a client only the
requests submitted with its own api_key).

    pip install -r tests/open311/requirements.txt
    python tests/open311/client_check.py --base-url http://127.0.0.1:8311/open311/v2 \\
        --api-key demo-key [--service-code 0101] [--lat 43.8868] [--lng 125.3245]

Prints a JSON summary and exits 0, or names the first mismatch on stderr and exits 1.
"""

import argparse
import datetime
import json
import sys
import uuid

import georeport
import requests
from civicbot import Endpoint, HttpError, Open311Client, Open311Error
from civicbot.http import HttpTransport, RateLimiter


class Mismatch(Exception):
    """The server answered, but not what the spec and wuzhang's contract say."""


def check(condition, message):
    if not condition:
        raise Mismatch(message)


class KeyedTransport(HttpTransport):
    """civicbot sends no api_key on reads, and wuzhang shows a client only its own
    requests, so every GET carries the key. A transport is civicbot's documented seam
    ("every network call goes through a transport object"); the library is unchanged."""

    def __init__(self, api_key, **kwargs):
        super().__init__(**kwargs)
        self.api_key = api_key

    def get_bytes(self, url, params=None, headers=None):
        params = dict(params or {})
        params.setdefault("api_key", self.api_key)
        return super().get_bytes(url, params, headers)


def w3c(value, field):
    """Parses a W3C datetime as the spec writes them; a zone is required."""
    check(isinstance(value, str), f"{field} is not a string: {value!r}")
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Mismatch(f"{field} is not a W3C datetime: {value!r}") from None
    check(parsed.tzinfo is not None, f"{field} has no time zone: {value!r}")
    return parsed


def as_list(value):
    """xmltodict gives one child element as a dict and several as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def http_status(call):
    """The HTTP status an expected failure answered with (None if it succeeded)."""
    try:
        call()
    except HttpError as e:
        return e.status
    except requests.HTTPError as e:
        return e.response.status_code
    return None


def run(args):
    summary = {"base_url": args.base_url}
    transport = KeyedTransport(args.api_key, rate_limiter=RateLimiter(min_interval=0.0))
    endpoint = Endpoint(id="wuzhang", name="wuzhang", base_url=args.base_url, write=True)
    client = Open311Client(endpoint, transport=transport)

    # GET services.json
    services = client.list_services()
    check(isinstance(services, list) and services, f"services is not a non-empty list: {services!r}")
    for s in services:
        for field in ("service_code", "service_name", "metadata", "type"):
            check(field in s, f"service {s!r} has no {field}")
        check(s["type"] in ("realtime", "batch", "blackbox"), f"bad type in {s!r}")
    code = args.service_code or services[0]["service_code"]
    service = next((s for s in services if str(s["service_code"]) == code), None)
    check(service is not None, f"service_code {code} is not listed")
    check(service["metadata"] is False, f"service {code} has metadata {service['metadata']!r}")
    check(service["type"] == "realtime", f"service {code} is {service['type']!r}, not realtime")
    summary["services"] = len(services)
    summary["service"] = {"service_code": code, "service_name": service["service_name"]}

    # GET services/{code}.json
    definition = client.get_service_definition(code)
    check(definition.get("service_code") == code, f"definition is for {definition!r}")
    check(definition.get("attributes") == [], f"definition has attributes: {definition!r}")

    # POST requests.json, validated by civicbot against the live service list first
    marker = uuid.uuid4().hex[:12]
    description = f'client_check {marker}: 井盖缺失 <b>&amp;</b> "quoted" & \'single\''
    prepared = client.create_request(
        code,
        dry_run=False,
        confirm="SEND",
        api_key=args.api_key,
        validate_remote=True,
        lat=args.lat,
        lng=args.lng,
        address_string="人民大街 2699号 (client_check)",
        description=description,
        email="resident@example.cn",
        phone="13800000000",
        media_url=f"https://img.example.cn/{marker}.jpg",
        device_id=f"device-{marker}",
        account_id=f"account-{marker}",
    )
    created = prepared.response
    check(isinstance(created, list) and len(created) == 1, f"POST answered {created!r}")
    created = created[0]
    request_id = created.get("service_request_id")
    token = created.get("token")
    check(isinstance(request_id, str) and request_id, f"POST gave no service_request_id: {created!r}")
    check(isinstance(token, str) and token, f"POST gave no token: {created!r}")
    check(created.get("account_id") == f"account-{marker}", f"account_id not echoed: {created!r}")
    summary["created"] = {"service_request_id": request_id, "token": token}

    # GET requests/{id}.json
    r = client.get_request(request_id)
    check(r is not None, f"request {request_id} not found after POST")
    check(r["service_request_id"] == request_id, f"read back {r['service_request_id']!r}")
    check(str(r["service_code"]) == code, f"service_code {r['service_code']!r} != {code}")
    check(r["service_name"] == service["service_name"], f"service_name {r['service_name']!r}")
    check(r["description"] == description, f"description {r['description']!r} != {description!r}")
    check(r["status"] == "open", f"a new request is {r['status']!r}")
    check(abs(float(r["lat"]) - args.lat) < 1e-9, f"lat {r['lat']!r} != {args.lat}")
    check(abs(float(r["long"]) - args.lng) < 1e-9, f"long {r['long']!r} != {args.lng}")
    check(r["media_url"] == f"https://img.example.cn/{marker}.jpg", f"media_url {r['media_url']!r}")
    requested = w3c(r["requested_datetime"], "requested_datetime")
    w3c(r["updated_datetime"], "updated_datetime")
    if r.get("expected_datetime") is not None:
        w3c(r["expected_datetime"], "expected_datetime")
    now = datetime.datetime.now(datetime.timezone.utc)
    check(abs((now - requested).total_seconds()) < 3600, f"requested_datetime {requested} is not now")
    summary["read_back"] = {k: r.get(k) for k in ("status", "requested_datetime", "agency_responsible")}

    # GET requests.json, with the spec's filters
    def ids(found):
        check(isinstance(found, list), f"requests is not a list: {found!r}")
        return [x["service_request_id"] for x in found]

    recent = ids(client.list_requests())
    check(request_id in recent, "the new request is not in the last 90 days")
    check(ids(client.list_requests(service_request_ids=[request_id])) == [request_id],
          "service_request_id filter")
    check(request_id in ids(client.list_requests(service_code=code, status="open")),
          "service_code + status=open filter")
    check(request_id not in ids(client.list_requests(status="closed")), "status=closed filter")
    since = (requested - datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    check(request_id in ids(client.list_requests(start_date=since)), "start_date filter")
    summary["listed"] = len(recent)

    # GET tokens/{token}.json
    t = client.get_token(token)
    check(isinstance(t, list) and len(t) == 1, f"tokens answered {t!r}")
    check(t[0].get("service_request_id") == request_id, f"token resolves to {t[0]!r}")
    check(t[0].get("token") == token, f"token echoed as {t[0].get('token')!r}")

    # Refusals
    status = http_status(lambda: client.create_request(
        code, dry_run=False, confirm="SEND", api_key=f"wrong-{marker}",
        lat=args.lat, lng=args.lng, description="must be refused"))
    check(status == 403, f"an unknown api_key got {status}, not 403")
    status = http_status(lambda: client.get_request(f"no-such-{marker}"))
    check(status == 404, f"an unknown id got {status}, not 404")
    summary["refusals"] = {"unknown_api_key": 403, "unknown_id": 404}

    # georeport, XML, anonymous
    anonymous = georeport.GeoReport(args.base_url, output_format="xml")
    xml_services = as_list(anonymous.get_service_list())
    check(code in [s.get("service_code") for s in xml_services], f"{code} not in services.xml")
    xml_definition = anonymous.get_service_definition(code)
    check(xml_definition.get("service_code") == code, f"services/{code}.xml is {xml_definition!r}")
    status = http_status(lambda: anonymous.get_service_request(request_id))
    if args.public_reads:
        check(status is None, f"an anonymous read got {status}")
    else:
        check(status == 404, f"an anonymous read of the new request got {status}, not 404")
    anonymous_json = georeport.GeoReport(args.base_url)
    listed = [x["service_request_id"] for x in anonymous_json.get_service_requests()]
    check((request_id in listed) == args.public_reads, "anonymous GET requests.json visibility")
    summary["xml"] = {"services": len(xml_services), "anonymous_read": status or 200}
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8311/open311/v2")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--service-code", help="default: the first service listed")
    parser.add_argument("--lat", type=float, default=43.8868, help="WGS84 (default: Changchun)")
    parser.add_argument("--lng", type=float, default=125.3245, help="WGS84")
    parser.add_argument("--public-reads", action="store_true",
                        help="expect anonymous clients to see requests (wuzhang shows them none)")
    args = parser.parse_args()
    args.base_url = args.base_url.rstrip("/")
    try:
        summary = run(args)
    except Mismatch as e:
        print(f"client_check: MISMATCH: {e}", file=sys.stderr)
        return 1
    except (HttpError, Open311Error, requests.RequestException, OSError, ValueError, KeyError,
            TypeError) as e:
        print(f"client_check: FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    summary["ok"] = True
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
