"""Calls from the portal to the three APIs, as the signed-in person.

Every call carries the person's bearer token (from the session) and the request id; an
answer of 4xx raises `ApiError` (the problem+json, with its field errors), no answer at all
or a 5xx raises `ServiceDown`, which the portal shows as its "try again" page (503)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import requests
from flask import current_app, session

from shared.http_client import ServiceClient, ServiceUnavailable

SERVICES = ("partners", "matching", "notify")
_FROM_SESSION = object()


class ServiceDown(ServiceUnavailable):
    """A service behind the page did not answer; nothing was changed by the portal."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service


@dataclass
class ApiError(Exception):
    """A 4xx answer: RFC 9457 problem details, `errors` per field for a 422."""

    status: int
    title: str = ""
    detail: str = ""
    type: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.title}: {self.detail}")

    @property
    def slug(self) -> str:
        """The last part of the problem type, e.g. `stale-version`."""
        return self.type.rstrip("/").rsplit("/", 1)[-1]

    @classmethod
    def from_response(cls, response: requests.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        errors = body.get("errors") if isinstance(body.get("errors"), dict) else {}
        return cls(status=response.status_code, title=str(body.get("title", response.reason)),
                   detail=str(body.get("detail", "")), type=str(body.get("type", "")),
                   errors={str(k): [str(m) for m in v] if isinstance(v, list) else [str(v)]
                           for k, v in errors.items()}, body=body)


@dataclass
class ApiResult:
    """A successful answer: its JSON, ETag and pagination metadata."""

    data: Any
    status: int
    etag: str | None
    pagination: dict[str, Any]
    headers: dict[str, str]


class ApiClient:
    """One service's API, called as the signed-in person (or anonymously with token=None)."""

    def __init__(self, name: str, base_url: str, timeout: float) -> None:
        self.name = name
        # One retry of idempotent calls only: a person is waiting for the page.
        self._client = ServiceClient(base_url, timeout=timeout, retries=1)

    def request(self, method: str, path: str, *, token: Any = _FROM_SESSION,
                json_body: Any = None, params: Any = None, headers: dict[str, str] | None = None,
                idempotency_key: str | None = None) -> ApiResult:
        """Call the API; raises ApiError on 4xx and ServiceDown when it does not answer."""
        headers = dict(headers or {})
        if token is _FROM_SESSION:
            token = session.get("token")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = self._client.request(method, path, json=json_body, params=params,
                                            headers=headers, idempotency_key=idempotency_key)
        except ServiceUnavailable as exc:
            raise ServiceDown(self.name, str(exc)) from exc
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        data = None
        if response.content and "json" in response.headers.get("Content-Type", ""):
            data = response.json()
        elif response.content:  # e.g. a report as text/csv
            data = response.text
        raw_pagination = response.headers.get("X-Pagination")
        pagination = json.loads(raw_pagination) if raw_pagination else {}
        return ApiResult(data=data, status=response.status_code,
                         etag=response.headers.get("ETag"), pagination=pagination,
                         headers=dict(response.headers))

    def get(self, path: str, **kwargs: Any) -> ApiResult:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> ApiResult:
        return self.request("POST", path, json_body=body if body is not None else {}, **kwargs)

    def patch(self, path: str, body: Any, **kwargs: Any) -> ApiResult:
        return self.request("PATCH", path, json_body=body, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> ApiResult:
        return self.request("PUT", path, json_body=body, **kwargs)


def init_app(app: Any) -> None:
    timeout = app.config["API_TIMEOUT_S"]
    app.extensions["portal_apis"] = {
        name: ApiClient(name, app.config[f"{name.upper()}_URL"], timeout) for name in SERVICES}


def api(name: str) -> ApiClient:
    """The client of one service: `api("partners")`, `api("matching")`, `api("notify")`."""
    return current_app.extensions["portal_apis"][name]


def partners() -> ApiClient:
    return api("partners")


def matching() -> ApiClient:
    return api("matching")


def notify() -> ApiClient:
    return api("notify")
