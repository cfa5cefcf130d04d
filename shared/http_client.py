"""Calls between services: timeouts on every request, retries only where a retry is safe,
the request id forwarded, and a service token attached."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from shared.logging import REQUEST_ID_HEADER, current_request_id

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class ServiceUnavailable(Exception):
    """The other service did not answer (connection refused, timeout, 5xx after retries)."""


class ServiceClient:
    """One client per service we call."""

    def __init__(self, base_url: str, *, timeout: float = 5.0, retries: int = 3,
                 token: Callable[[], str | None] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.token = token
        self._plain = self._session(retries, IDEMPOTENT_METHODS)
        # A POST is safe to retry only with an Idempotency-Key: the server replays it.
        self._keyed = self._session(retries, IDEMPOTENT_METHODS | {"POST", "PATCH"})

    @staticmethod
    def _session(retries: int, methods: frozenset[str]) -> requests.Session:
        retry = Retry(
            total=retries, connect=retries, read=retries, status=retries, backoff_factor=0.2,
            backoff_jitter=0.1, status_forcelist=(502, 503, 504), allowed_methods=methods,
            raise_on_status=False,
        )
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=32)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def request(self, method: str, path: str, *, idempotency_key: str | None = None,
                **kwargs: Any) -> requests.Response:
        """Send a request; a 5xx or no answer at all raises ServiceUnavailable."""
        headers = dict(kwargs.pop("headers", None) or {})
        request_id = current_request_id()
        if request_id:
            headers.setdefault(REQUEST_ID_HEADER, request_id)
        if self.token is not None:
            token = self.token()
            if token:
                headers.setdefault("Authorization", f"Bearer {token}")
        session = self._plain
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
            session = self._keyed
        url = f"{self.base_url}{path}"
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = session.request(method, url, headers=headers, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ServiceUnavailable(f"{method} {url}: {exc.__class__.__name__}") from exc
        if response.status_code >= 500:
            raise ServiceUnavailable(f"{method} {url}: HTTP {response.status_code}")
        return response

    def get_json(self, path: str, **kwargs: Any) -> Any:
        response = self.request("GET", path, **kwargs)
        response.raise_for_status()
        return response.json()


class ServiceTokenProvider:
    """A service token from partners, fetched with client credentials and reused until it
    is about to expire."""

    def __init__(self, partners: ServiceClient, client_id: str, client_secret: str) -> None:
        self.partners = partners
        self.client_id = client_id
        self.client_secret = client_secret
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() > self._expires_at - 30:
                response = self.partners.request("POST", "/api/v1/auth/token", json={
                    "grant_type": "client_credentials", "client_id": self.client_id,
                    "client_secret": self.client_secret,
                })
                response.raise_for_status()
                body = response.json()
                self._token = body["access_token"]
                self._expires_at = time.monotonic() + body["expires_in"]
            return self._token
