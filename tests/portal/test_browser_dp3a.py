"""The DP3A officer's path in headless Chromium (Debian's, via Playwright), in Bahasa
Indonesia and in English: the verification queue → verify; start a match run → watch its
progress (its script follows the run, then reloads) → approve; the collaboration dashboard.
Screenshots under tests/artifacts/, axe-core on each main page (as tests/portal/test_browser.py)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.partners.conftest import PASSWORD
from tests.portal.officers import TODAY, api, person_of
from tests.portal.conftest import PHONE, look

WORDS = {
    "id": {"menu": "Menu utama", "verification": "Verifikasi", "verify": "Verifikasi",
           "verified": "Organisasi sudah diverifikasi.", "runs": "Pencocokan",
           "programme": "Program", "start": "Mulai pencocokan", "succeeded": "Berhasil",
           "approve": "Setujui usulan yang dipilih", "approved": "1 dari 1 usulan disetujui.",
           "dashboard": "Dasbor", "dashboard_title": "Dasbor kolaborasi",
           "password": "Kata sandi", "sign_in": "Masuk", "choose": "Pilih"},
    "en": {"menu": "Main menu", "verification": "Verification", "verify": "Verify",
           "verified": "The organisation is verified.", "runs": "Match runs",
           "programme": "Programme", "start": "Start the run", "succeeded": "Succeeded",
           "approve": "Approve the chosen proposals", "approved": "1 of 1 proposals approved.",
           "dashboard": "Dashboard", "dashboard_title": "Collaboration dashboard",
           "password": "Password", "sign_in": "Sign in", "choose": "Choose"},
}
PLACES = {"id": "32.75.07.1007", "en": "32.75.07.1008"}  # Ciketingudik, Sumurbatu


def _world(system: Any, language: str) -> dict[str, Any]:
    """A pending organisation, and a programme with one need an offer can serve."""
    make, region = system.make, PLACES[language]
    pending, _ = make.organisation(status="pending",
                                   name=f"PT Menunggu Peramban {language.upper()}")
    _, company = make.organisation(name=f"PT Pelatih Peramban {language.upper()}")
    make.offer(company, delivery_regions=[region], title=f"Pelatih peramban {language}")
    officer = person_of(system, make.user("dp3a_officer", locale=language))
    coordinator = person_of(system, make.user("coordinator", region_codes=[region]))
    name = f"Sekoper Cinta peramban {language}"
    programme = api(system, "matching", "POST", "/api/v1/programmes", officer.headers, json={
        "name": name, "region": region, "period_start": str(TODAY),
        "period_end": str(TODAY + timedelta(days=300)), "cohort_size": 100})
    api(system, "matching", "POST", "/api/v1/needs", coordinator.headers, json={
        "programme_id": programme["id"], "kind": "trainer", "title": "Pelatih pemasaran digital",
        "topics": ["pemasaran_digital"], "quantity": 3, "unit": "sessions",
        "window_start": str(TODAY), "window_end": str(TODAY + timedelta(days=60)),
        "region": region, "accepted_modes": ["onsite"]})
    return {"pending": pending, "officer": officer, "programme": name}


@pytest.mark.parametrize("language", ["id", "en"])
def test_the_officer_verifies_runs_approves_and_reads_the_dashboard(
        browser: Browser, axe: Any, portal_server: str, system: Any,  # noqa: F811
        language: str) -> None:
    words, world = WORDS[language], _world(system, language)
    context = browser.new_context(viewport=PHONE, locale=language)
    page = context.new_page()
    page.goto(f"{portal_server}/masuk?lang={language}")
    page.get_by_label("Email", exact=True).fill(world["officer"].email)
    page.get_by_label(words["password"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=words["sign_in"], exact=True).click()
    nav = page.get_by_role("navigation", name=words["menu"])

    # The verification queue (notify's emails link here) → the organisation → verify.
    nav.get_by_role("link", name=words["verification"], exact=True).click()
    assert page.url.split("?")[0].endswith("/dp3a/verifikasi")
    look(page, axe, language, "dp3a-verification")
    page.get_by_role("link", name=world["pending"].name).click()
    look(page, axe, language, "dp3a-organisation")
    page.get_by_role("button", name=words["verify"], exact=True).click()
    expect(page.get_by_text(words["verified"])).to_be_visible()

    # Start a run for the programme; its page follows the run until it is done.
    nav.get_by_role("link", name=words["runs"], exact=True).click()
    page.get_by_label(words["programme"], exact=True).select_option(label=world["programme"])
    look(page, axe, language, "dp3a-runs")
    page.get_by_role("button", name=words["start"], exact=True).click()
    expect(page.locator("progress#run-progress")).to_be_visible()
    expect(page.locator(".tag").first).to_have_text(words["succeeded"], timeout=60_000)
    expect(page.locator("progress#run-progress")).to_have_attribute("value", "100")
    look(page, axe, language, "dp3a-run")
    page.get_by_label(f"{words['choose']} Pelatih pemasaran digital", exact=False).check()
    page.get_by_role("button", name=words["approve"]).click()
    expect(page.get_by_text(words["approved"])).to_be_visible()
    look(page, axe, language, "dp3a-run-approved")

    nav.get_by_role("link", name=words["dashboard"], exact=True).click()
    expect(page.get_by_role("heading", name=words["dashboard_title"], level=1)).to_be_visible()
    expect(page.locator(f'[data-region="{PLACES[language]}"]')).to_be_visible()
    look(page, axe, language, "dashboard")
    context.close()
