"""The whole journey in headless Chromium, as the people would walk it, in Bahasa Indonesia and
in English: a company registers, DP3A verifies it, the company offers a digital-marketing
trainer, the coordinator of Mustikasari posts a need, DP3A runs matching and approves, the
company accepts, the coordinator confirms the delivery and rates it, and the dashboard shows
it. The emails arrive at the test SMTP server; each main page is saved under tests/artifacts/
and checked with axe-core."""
from __future__ import annotations

import random
import re
from datetime import timedelta
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect

from services.portal.i18n import compile_catalogue
from shared.clock import today_wib
from tests.partners.conftest import PASSWORD
from tests.portal.conftest import PHONE, Person, look, wait_for

INDONESIAN = compile_catalogue("id")
MUSTIKASARI = "32.75.11.1004"
RUN_SECONDS = 90_000  # ms; a run on the shared test data takes seconds, then its page reloads


def say(language: str, message: str, **values: Any) -> str:
    """What the portal shows for `message` in `language` (its own catalogue)."""
    text = INDONESIAN.gettext(message) if language == "id" else message
    return text % values if values else text


def signed_in(browser: Browser, portal: str, language: str, email: str,
              password: str = PASSWORD) -> tuple[BrowserContext, Page]:
    context, page = _new_page(browser, language)
    page.goto(f"{portal}/masuk?lang={language}")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label(say(language, "Password"), exact=True).fill(password)
    page.get_by_role("button", name=say(language, "Sign in"), exact=True).click()
    expect(page.get_by_role("button", name=say(language, "Sign out"))).to_be_visible()
    return context, page


def tick_topics(page: Page, language: str) -> None:
    """Digital marketing and digital literacy: the topics the offer and the need share."""
    for indonesian, english in (("Pemasaran digital", "Digital marketing"),
                                ("Literasi digital", "Digital literacy")):
        page.get_by_label(indonesian if language == "id" else english, exact=True).check()


def emails(system: Any, address: str, subject: str) -> list:
    """The messages to `address` with `subject` (a long header may arrive folded)."""
    return [m for m in system.smtp.to(address) if " ".join(m["Subject"].split()) == subject]


@pytest.mark.parametrize("language", ["id", "en"])
def test_the_whole_journey(browser: Browser, axe: Axe, portal_server: str, system: Any,
                           people: Any, language: str) -> None:
    tag = "".join(random.choice("0123456789") for _ in range(6))
    company = f"PT Jejak {language.upper()} {tag} (fiktif)"
    email = f"csr{tag}{language}@jejak-uji.example"
    company_password = "kata sandi perjalanan"
    officer: Person = people.staff("dp3a_officer")
    coordinator: Person = people.staff("coordinator")  # of Kelurahan Mustikasari
    today = today_wib()

    # 1. The company registers.
    context, page = _new_page(browser, language)
    page.goto(f"{portal_server}/daftar?lang={language}")
    page.get_by_label(say(language, "Name of the organisation"), exact=True).fill(company)
    page.get_by_label(say(language, "NIB (13 digits, companies)"), exact=True).fill(tag * 2 + "7")
    page.get_by_label(say(language, "NPWP (16 digits, companies)"), exact=True).fill(
        tag * 2 + "7654")
    page.get_by_label(say(language, "Region of the address"), exact=True).fill(MUSTIKASARI)
    page.get_by_label(say(language, "Contact person"), exact=True).fill("Sari Jejak")
    page.get_by_label(say(language, "Contact email"), exact=True).fill(email)
    page.get_by_label(say(language, "Contact phone"), exact=True).fill("+6281200000654")
    page.get_by_label(say(language, "Your name"), exact=True).fill("Sari Jejak")
    page.get_by_label(say(language, "Your email (to sign in)"), exact=True).fill(email)
    page.get_by_label(say(language, "Choose a password (at least 10 characters)"),
                      exact=True).fill(company_password)
    page.get_by_role("button", name=say(language, "Register"), exact=True).click()
    expect(page.get_by_text(company)).to_be_visible()
    context.close()

    # 2. DP3A verifies it; the company's admin is told by email, in her language.
    officer_context, officer_page = signed_in(browser, portal_server, language, officer.email)
    officer_page.goto(f"{portal_server}/dp3a/verifikasi")
    look(officer_page, axe, language, "journey-verification-queue")
    officer_page.get_by_role("link", name=company).click()
    look(officer_page, axe, language, "journey-organisation")
    officer_page.get_by_role("button", name=say(language, "Verify"), exact=True).click()
    officer_page.goto(f"{portal_server}/dp3a/verifikasi?status=verified")
    expect(officer_page.get_by_role("row").filter(has_text=company)).to_contain_text(
        say(language, "Verified"))
    verified = f"{company} sudah terverifikasi" if language == "id" else f"{company} is verified"
    wait_for(lambda: emails(system, email, verified), what="the verification email")

    # 3. The company offers a digital-marketing trainer in Mustikasari.
    company_context, company_page = signed_in(browser, portal_server, language, email,
                                              company_password)
    offer_title = f"Pelatih pemasaran digital dan literasi digital {tag}"
    company_page.goto(f"{portal_server}/penawaran")
    company_page.get_by_role("link", name=say(language, "New offer: %(kind)s",
                                              kind=say(language, "Trainer"))).click()
    company_page.get_by_label(say(language, "Title"), exact=True).fill(offer_title)
    company_page.get_by_label(say(language, "Description"), exact=True).fill(
        f"Pelatihan pemasaran digital dan literasi digital {tag} untuk UMKM perempuan.")
    tick_topics(company_page, language)
    company_page.get_by_label(say(language, "Capacity"), exact=True).fill("6")
    company_page.get_by_label(say(language, "Available from"), exact=True).fill(str(today))
    company_page.get_by_label(say(language, "Available until"), exact=True).fill(
        str(today + timedelta(days=120)))
    company_page.get_by_label(say(language, "Delivery regions"), exact=True).fill(MUSTIKASARI)
    company_page.get_by_label(say(language, "On site"), exact=True).check()
    company_page.get_by_role("button", name=say(language, "Save as draft")).click()
    company_page.get_by_role("button", name=say(language, "Submit"), exact=True).click()
    expect(company_page.locator(".tag").first).to_have_text(say(language, "Active"))
    look(company_page, axe, language, "journey-offer-active")

    # 4. DP3A opens this year's programme for Mustikasari's class.
    programme = f"Sekoper Cinta Mustikasari {tag}"
    officer_page.goto(f"{portal_server}/dp3a/program/baru")
    officer_page.get_by_label(say(language, "Name"), exact=True).fill(programme)
    officer_page.get_by_label(say(language, "Kelurahan (region code)"), exact=True).fill(
        MUSTIKASARI)
    officer_page.get_by_label(say(language, "Starts"), exact=True).fill(str(today))
    officer_page.get_by_label(say(language, "Ends"), exact=True).fill(
        str(today + timedelta(days=300)))
    officer_page.get_by_label(say(language, "Participants"), exact=True).fill("40")
    officer_page.get_by_role("button", name=say(language, "Create programme")).click()
    expect(officer_page.get_by_role("heading", name=programme)).to_be_visible()

    # 5. The coordinator of Mustikasari posts the need.
    coordinator_context, coordinator_page = signed_in(browser, portal_server, language,
                                                      coordinator.email)
    need_title = f"Pelatih pemasaran digital dan literasi digital {tag}"
    coordinator_page.goto(f"{portal_server}/koordinator/kebutuhan/baru")
    coordinator_page.get_by_label(say(language, "Programme"), exact=True).select_option(
        label=f"{programme} ({MUSTIKASARI})")
    coordinator_page.get_by_label(say(language, "Trainer"), exact=True).check()
    coordinator_page.get_by_label(say(language, "Title"), exact=True).fill(need_title)
    coordinator_page.get_by_label(say(language, "Description"), exact=True).fill(
        f"Kelas UMKM perempuan ingin belajar pemasaran digital dan literasi digital {tag}.")
    tick_topics(coordinator_page, language)
    coordinator_page.get_by_label(say(language, "Quantity"), exact=True).fill("6")
    coordinator_page.get_by_label(say(language, "Unit"), exact=True).select_option("sessions")
    coordinator_page.get_by_label(say(language, "Needed from"), exact=True).fill(
        str(today + timedelta(days=7)))
    coordinator_page.get_by_label(say(language, "Needed until"), exact=True).fill(
        str(today + timedelta(days=60)))
    look(coordinator_page, axe, language, "journey-need-form")
    coordinator_page.get_by_role("button", name=say(language, "Post the need")).click()
    expect(coordinator_page.get_by_role("heading", name=need_title)).to_be_visible()
    look(coordinator_page, axe, language, "journey-need")

    # 6. DP3A runs matching for the programme, watches it finish and approves the match.
    officer_page.goto(f"{portal_server}/dp3a/pencocokan")
    officer_page.get_by_label(say(language, "Programme"), exact=True).select_option(
        label=programme)
    officer_page.get_by_role("button", name=say(language, "Start the run")).click()
    expect(officer_page.locator("progress")).to_be_attached()
    look(officer_page, axe, language, "journey-run-progress")
    proposals = officer_page.get_by_role("heading", name=say(language, "Proposals"),
                                         exact=True)
    expect(proposals).to_be_visible(timeout=RUN_SECONDS)
    ours = officer_page.get_by_role("row").filter(has_text=company)
    expect(ours).to_have_count(1)
    ours.get_by_role("checkbox").check()
    look(officer_page, axe, language, "journey-run-proposals")
    officer_page.get_by_role("button", name=say(language, "Approve the chosen proposals")).click()
    approved = (f"Kecocokan disetujui: {need_title}" if language == "id"
                else f"Match approved: {need_title}")
    wait_for(lambda: emails(system, email, approved), what="the approval email")

    # 7. The company reads the explanation and accepts.
    company_page.goto(f"{portal_server}/usulan")
    company_page.get_by_role("link", name=need_title).first.click()
    look(company_page, axe, language, "journey-proposal")
    company_page.get_by_role("button", name=say(language, "Accept"), exact=True).click()
    expect(company_page.locator(".tag").first).to_have_text(say(language, "Accepted"))

    # 8. The coordinator confirms the delivery and rates it.
    coordinator_page.goto(f"{portal_server}/koordinator/bantuan")
    coordinator_page.get_by_role("link", name=re.compile(re.escape(need_title))).first.click()
    coordinator_page.get_by_label(say(language, "5 – excellent"), exact=True).check()
    coordinator_page.get_by_label(say(language, "Notes"), exact=True).fill(
        "Peserta langsung mempraktikkan pemasaran di media sosial.")
    look(coordinator_page, axe, language, "journey-delivery")
    coordinator_page.get_by_role("button", name=say(language, "Confirm and rate")).click()
    expect(coordinator_page.get_by_text(company).first).to_be_visible()

    # The company sees the rating it received.
    company_page.goto(f"{portal_server}/penyaluran")
    expect(company_page.get_by_role("row").filter(has_text=need_title)).to_contain_text("5")
    look(company_page, axe, language, "journey-deliveries")

    # 9. The dashboard shows it: Mustikasari covered, the company rated.
    officer_page.goto(f"{portal_server}/dasbor/")
    expect(officer_page.get_by_role("heading", name=say(language, "Collaboration dashboard"))
           ).to_be_visible()
    ratings = officer_page.get_by_role("table").filter(
        has_text=say(language, "Ratings of delivered help"))
    expect(ratings.get_by_role("row").filter(has_text=company)).to_contain_text("5")
    expect(officer_page.get_by_text("Mustikasari").first).to_be_visible()
    look(officer_page, axe, language, "journey-dashboard")
    for opened in (officer_context, company_context, coordinator_context):
        opened.close()


def _new_page(browser: Browser, language: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport=PHONE, locale=language)
    return context, context.new_page()
