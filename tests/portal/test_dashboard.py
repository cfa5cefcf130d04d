"""The collaboration dashboard (DP3A): the figures of what the test created, a grid of
every kelurahan of Kota Bekasi, and each chart's CSV with the same figures as its table."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.partners.conftest import bearer
from tests.portal.conftest import Portal, text, wait_for
from tests.portal.officers import TODAY, api, csv_rows, person_of, signed_in, table

CIKIWUL = "32.75.07.1004"  # Bantargebang: no other test works here
CHARTS = ("coverage", "partner-kinds-monthly", "partner-kinds", "rupiah-by-source",
          "unmet-by-topic", "time-to-approval", "ratings")


@pytest.fixture(scope="module")
def loop(system):
    """In one kelurahan: a university trained the class (rated 5), a company's funding was
    approved, a research need found nobody."""
    make = system.make
    officer_h = bearer(make.token(make.user("dp3a_officer")))
    coordinator = person_of(system, make.user("coordinator", region_codes=[CIKIWUL]))
    company_org, company = make.organisation(name="PT Dana Cikiwul")
    university_org, lecturer = make.organisation(kind="university",
                                                 name="Universitas Cikiwul")
    make.offer(lecturer, delivery_regions=[CIKIWUL], title="Dosen pemasaran digital")
    make.offer(company, kind="funding", unit="rupiah", capacity=50_000_000,
               topics=["insentif_fasilitator"], delivery_regions=[CIKIWUL],
               title="Dana CSR Cikiwul")
    programme = api(system, "matching", "POST", "/api/v1/programmes", officer_h, json={
        "name": "Sekoper Cinta Cikiwul", "region": CIKIWUL, "period_start": str(TODAY),
        "period_end": str(TODAY + timedelta(days=300)), "cohort_size": 100})["id"]
    window = {"window_start": str(TODAY), "window_end": str(TODAY + timedelta(days=60)),
              "region": CIKIWUL, "accepted_modes": ["onsite"], "programme_id": programme}
    for body in ({"kind": "trainer", "title": "Pelatih pemasaran digital", "quantity": 2,
                  "unit": "sessions", "topics": ["pemasaran_digital"]},
                 {"kind": "funding", "title": "Insentif fasilitator", "quantity": 10_000_000,
                  "unit": "rupiah", "topics": ["insentif_fasilitator"]},
                 {"kind": "trainer", "title": "Peneliti kebutuhan kelas", "quantity": 2,
                  "unit": "sessions", "topics": ["penelitian"]}):
        api(system, "matching", "POST", "/api/v1/needs", coordinator.headers,
            json={**window, **body})
    run = api(system, "matching", "POST", "/api/v1/match-runs", officer_h,
              json={"programme_id": programme})
    wait_for(lambda: api(system, "matching", "GET", f"/api/v1/match-runs/{run['id']}",
                         officer_h)["status"] == "succeeded", 60, "the run")
    proposals = api(system, "matching", "GET", "/api/v1/proposals", officer_h,
                    query_string={"run_id": run["id"]})
    assert len(proposals) == 2
    for proposal in proposals:
        api(system, "matching", "POST", f"/api/v1/proposals/{proposal['id']}/approve",
            officer_h)
    trainer = next(p for p in proposals if p["unit"] == "sessions")
    api(system, "matching", "POST", f"/api/v1/proposals/{trainer['id']}/accept",
        bearer(make.token(lecturer)))
    api(system, "matching", "POST", f"/api/v1/proposals/{trainer['id']}/delivery",
        coordinator.headers, json={"delivered_quantity": 2, "rating": 5})
    return {"company": company_org, "university": university_org}


@pytest.fixture
def desk(system, people) -> Portal:
    return signed_in(system, people.staff("dp3a_officer"))


def test_only_dp3a_sees_the_dashboard(system, people):
    for person in (people.staff("coordinator"), people.partner_admin()):
        other = signed_in(system, person)
        assert other.get("/dasbor/").status_code == 403
        assert other.get("/dasbor/coverage.csv").status_code == 403
    assert Portal(system.portal.test_client()).get("/dasbor/").status_code == 302


def test_the_dashboard_shows_what_was_created(desk, loop):
    page = desk.get("/dasbor/")
    assert page.status_code == 200
    body, words = page.get_data(as_text=True), text(page)
    assert "Dasbor kolaborasi" in words and "Kota Bekasi" in words
    assert "<script" not in body and "style=" not in body
    # Every kelurahan of the city is a cell of the grid; ours with its figures, in words.
    assert len(re.findall(r'data-region="32\.75\.\d\d\.\d{4}"', body)) == 56
    cell = re.search(rf'data-region="{CIKIWUL}">(.*?)</li>', body, re.S).group(1)
    cell_text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip()
    assert cell_text == "Cikiwul 2 dari 3 kebutuhan terpenuhi (66.7%) Separuh atau lebih"
    assert "band-mid" in body

    coverage = {row[1]: row for row in table(page, "coverage")[1:]}
    assert coverage[CIKIWUL] == ["Bantargebang", CIKIWUL, "Cikiwul", "3", "2", "66.7"]
    assert coverage["32.75.07.1003"]  # nobody works in Bantargebang itself[3:] == ["0", "0", "–"]
    rupiah = {row[0]: row for row in table(page, "rupiah-by-source")[1:]}
    assert rupiah[loop["company"].name] == [loop["company"].name, "company", "Rp 10.000.000"]
    ratings = {row[0]: row for row in table(page, "ratings")[1:]}
    assert ratings[loop["university"].name] == [loop["university"].name, "5.0", "1"]
    month = TODAY.strftime("%Y-%m")
    monthly = {(row[0], row[1]): row for row in table(page, "partner-kinds-monthly")[1:]}
    assert monthly[(month, "university")][2:5] == ["Perguruan tinggi", "1", "0"]
    unmet = {row[0]: row for row in table(page, "unmet-by-topic")[1:]}
    assert int(unmet["penelitian"][2]) >= 1
    days = table(page, "time-to-approval")[1]
    assert days[0] == "median_days_to_approval" and float(days[1]) >= 0
    for meter in re.findall(r"<meter [^>]*>", body):
        assert "aria-labelledby" in meter


def normalised(cell: str) -> str:
    """A table cell as the CSV writes it: rupiah without its dots, no dash for nothing."""
    if cell == "–":
        return ""
    if cell.startswith("Rp "):
        return cell[3:].replace(".", "")
    return cell


@pytest.mark.parametrize("chart", CHARTS)
def test_each_csv_has_the_figures_of_its_table(desk, loop, chart):
    page = desk.get("/dasbor/")
    shown = table(page, chart)
    response = desk.get(f"/dasbor/{chart}.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith(f'attachment; filename="{chart}-')
    rows = csv_rows(response)
    assert len(rows[0]) == len(shown[0])  # one CSV column per table column
    # Labels (kinds, topics) are in the reader's language on the page, codes in the CSV.
    labels = {i for i, key in enumerate(rows[0]) if key.endswith("_label")}
    assert [[normalised(c) for i, c in enumerate(r) if i not in labels] for r in shown[1:]] == [
        [c for i, c in enumerate(r) if i not in labels] for r in rows[1:]]


def test_the_whole_report_as_csv(desk, loop):
    response = desk.get("/dasbor/laporan.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = csv_rows(response)
    assert rows[0] == ["section", "key", "field", "value"]
    assert ["rupiah_committed_by_source", loop["company"].name, "amount_idr",
            "10000000"] in rows
    assert ["coverage_per_kelurahan", CIKIWUL, "needs", "3"] in rows
    assert ["ratings", loop["university"].name, "mean_rating", "5.0"] in rows


def test_the_dashboard_in_english(desk, loop):
    page = desk.get("/dasbor/?lang=en")
    words = text(page)
    assert '<html lang="en">' in page.get_data(as_text=True)
    for title in ("Collaboration dashboard", "Coverage per kelurahan",
                  "Rupiah committed by source", "Unmet needs by topic", "Time to approval",
                  "Ratings of delivered help", "Download this table (CSV)"):
        assert title in words
    assert "2 of 3 needs covered (66.7%)" in words
