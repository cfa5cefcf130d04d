"""Helpers for the DP3A, coordinator and dashboard tests: people signed in to the portal,
what they do through its pages, and what the APIs then hold.

The whole system lives for the package (tests/portal/conftest.py), so every test works in
its own kelurahan, with offers that reach only there: nobody else's offers or needs get in
its runs or its figures."""
from __future__ import annotations

import csv
import html
import io
import re
import uuid
from datetime import timedelta
from typing import Any

from shared.clock import today_wib
from tests.partners.conftest import bearer
from tests.portal.conftest import Person, Portal, System, in_directory, text, wait_for

TODAY = today_wib()


def signed_in(system: System, person: Person) -> Portal:
    portal = Portal(system.portal.test_client())
    portal.sign_in(person)
    return portal


def person_of(system: System, user: Any) -> Person:
    """A user made by the partners factory, once notify's directory knows them."""
    wait_for(lambda: in_directory(str(user.id)), what="the person in notify's directory")
    return Person(id=str(user.id), email=user.email, role=user.role,
                  organisation_id=str(user.organisation_id), name=user.name,
                  headers=bearer(system.make.token(user)))


def created_id(response: Any) -> str:
    """The id at the end of a redirect's Location (the page of what was created)."""
    assert response.status_code == 302, text(response)
    return response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]


def new_programme(portal: Portal, region: str, name: str = "Sekoper Cinta uji") -> str:
    response = portal.submit("/dp3a/program/baru", {
        "name": name, "region": region, "period_start": str(TODAY),
        "period_end": str(TODAY + timedelta(days=300)), "cohort_size": "100",
        "description": "Kelas uji"}, follow=False)
    return created_id(response)


def need_fields(region: str, **overrides: Any) -> dict[str, Any]:
    fields = {"kind": "trainer", "title": "Pelatih pemasaran digital", "description": "",
              "topics": ["pemasaran_digital"], "quantity": "4", "unit": "sessions",
              "window_start": str(TODAY), "window_end": str(TODAY + timedelta(days=60)),
              "region": region, "priority": "4", "accepted_modes": ["onsite"]}
    fields.update(overrides)
    return fields


def new_need(portal: Portal, programme_id: str, region: str, **overrides: Any) -> None:
    page = f"/dp3a/program/{programme_id}/kebutuhan/baru"
    response = portal.submit(page, {"programme_id": programme_id,
                                    **need_fields(region, **overrides)}, follow=False)
    assert response.status_code == 302, text(response)


def offer(system: System, owner: Any, region: str, **overrides: Any) -> Any:
    """An active offer that reaches only `region` (on site)."""
    return system.make.offer(owner, delivery_regions=[region], mode="onsite", **overrides)


def start_run(portal: Portal, programme_id: str) -> str:
    response = portal.submit("/dp3a/pencocokan", {"programme_id": programme_id},
                             follow=False)
    return created_id(response)


def finished_run_page(portal: Portal, run_id: str) -> Any:
    """Reload the run's page, as its script does, until it no longer follows the run."""
    def done() -> Any:
        page = portal.get(f"/dp3a/pencocokan/{run_id}")
        return page if "data-progress-url" not in page.get_data(as_text=True) else None

    return wait_for(done, 60, "the run to finish")


def proposal_ids(page: Any) -> list[str]:
    """The ids of the proposals ticked-able on a run's page, in the order shown."""
    return re.findall(r'name="proposal_ids" value="([0-9a-f-]{36})"',
                      page.get_data(as_text=True))


def api(system: System, service: str, method: str, path: str, headers: dict[str, str],
        **kwargs: Any) -> Any:
    """Call a service's API directly (in process) with a person's `headers`."""
    client = {"matching": system.matching, "partners": system.partners}[service].test_client()
    response = client.open(path, method=method, headers=headers, **kwargs)
    assert response.status_code < 400, (path, response.get_json())
    return response.get_json()


def table(page: Any, chart: str) -> list[list[str]]:
    """The rows of the table behind a dashboard chart, header first, as read."""
    body = page.get_data(as_text=True)
    found = re.search(rf'<table data-chart="{re.escape(chart)}">(.*?)</table>', body, re.S)
    assert found, f"no table for {chart}"
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        rows.append([html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return rows


def csv_rows(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:6]}"
