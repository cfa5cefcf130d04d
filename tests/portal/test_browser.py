"""The partner's path in headless Chromium (Debian's package, driven by Playwright), as a
person clicks through it, in Bahasa Indonesia and in English: register, sign in, create and
submit an offer, find it listed. Each main page is saved as a screenshot under
tests/artifacts/ and checked with axe-core: no serious or critical accessibility violation."""
from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, expect

from shared.clock import today_wib
from tests.portal.conftest import PHONE, look

WORDS = {
    "id": {"register": "Daftarkan organisasi Anda", "org_name": "Nama organisasi",
           "nib": "NIB (13 digit, perusahaan)", "npwp": "NPWP (16 digit, perusahaan)",
           "region": "Wilayah alamat", "contact": "Narahubung",
           "contact_email": "Email narahubung", "contact_phone": "Telepon narahubung",
           "your_name": "Nama Anda", "your_email": "Email Anda (untuk masuk)",
           "password_new": "Buat kata sandi (minimal 10 karakter)", "register_button": "Daftar",
           "check_form": "Mohon periksa formulir", "registered": "sudah terdaftar",
           "password": "Kata sandi", "sign_in": "Masuk", "offers": "Penawaran",
           "new_trainer": "Penawaran baru: Pelatih", "title": "Judul",
           "description": "Deskripsi", "topic": "Pemasaran digital", "capacity": "Kapasitas",
           "from": "Tersedia mulai", "to": "Tersedia sampai",
           "regions": "Wilayah penyaluran", "onsite": "Tatap muka",
           "save_draft": "Simpan sebagai draf", "draft": "Draf", "submit": "Ajukan",
           "submitted": "Diajukan", "inbox": "Kotak masuk", "notifications": "Pemberitahuan",
           "team": "Tim", "proposals": "Usulan", "deliveries": "Penyaluran"},
    "en": {"register": "Register your organisation", "org_name": "Name of the organisation",
           "nib": "NIB (13 digits, companies)", "npwp": "NPWP (16 digits, companies)",
           "region": "Region of the address", "contact": "Contact person",
           "contact_email": "Contact email", "contact_phone": "Contact phone",
           "your_name": "Your name", "your_email": "Your email (to sign in)",
           "password_new": "Choose a password (at least 10 characters)",
           "register_button": "Register", "check_form": "Please check the form",
           "registered": "is registered", "password": "Password", "sign_in": "Sign in",
           "offers": "Offers", "new_trainer": "New offer: Trainer", "title": "Title",
           "description": "Description", "topic": "Digital marketing",
           "capacity": "Capacity", "from": "Available from", "to": "Available until",
           "regions": "Delivery regions", "onsite": "On site", "save_draft": "Save as draft",
           "draft": "Draft", "submit": "Submit", "submitted": "Submitted", "inbox": "Inbox",
           "notifications": "Notifications", "team": "Team", "proposals": "Proposals",
           "deliveries": "Deliveries"},
}


@pytest.mark.parametrize("language", ["id", "en"])
def test_a_partner_registers_signs_in_and_offers_a_trainer(browser: Browser, axe: Axe,
                                                           portal_server: str, system: Any,
                                                           language: str) -> None:
    words = WORDS[language]
    context = browser.new_context(viewport=PHONE, locale=language)
    page = context.new_page()
    tag = "".join(random.choice("0123456789") for _ in range(6))
    name = f"PT Peramban {language.upper()} {tag} (fiktif)"
    email = f"csr{tag}{language}@peramban-uji.example"

    page.goto(f"{portal_server}/?lang={language}")
    expect(page.locator("html")).to_have_attribute("lang", language)
    look(page, axe, language, "home")

    page.get_by_role("link", name=words["register"]).first.click()
    look(page, axe, language, "register")
    # Sent empty first: the API's errors show next to the fields.
    page.get_by_role("button", name=words["register_button"], exact=True).click()
    expect(page.get_by_role("heading", name=words["check_form"])).to_be_visible()
    look(page, axe, language, "register-errors")

    page.get_by_label(words["org_name"], exact=True).fill(name)
    page.get_by_label(words["nib"], exact=True).fill(tag * 2 + "1")
    page.get_by_label(words["npwp"], exact=True).fill(tag * 2 + "1234")
    page.get_by_label(words["region"], exact=True).fill("32.75.11.1004")
    page.get_by_label(words["contact"], exact=True).fill("Rina Peramban")
    page.get_by_label(words["contact_email"], exact=True).fill(email)
    page.get_by_label(words["contact_phone"], exact=True).fill("+6281200000321")
    page.get_by_label(words["your_name"], exact=True).fill("Rina Peramban")
    page.get_by_label(words["your_email"], exact=True).fill(email)
    page.get_by_label(words["password_new"], exact=True).fill("kata sandi peramban")
    page.get_by_role("button", name=words["register_button"], exact=True).click()
    expect(page.get_by_text(words["registered"], exact=False)).to_be_visible()
    look(page, axe, language, "sign-in")

    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label(words["password"], exact=True).fill("kata sandi peramban")
    page.get_by_role("button", name=words["sign_in"], exact=True).click()
    expect(page.get_by_role("button", name="Keluar" if language == "id" else "Sign out"))\
        .to_be_visible()
    look(page, axe, language, "home-signed-in")

    nav = page.get_by_role("navigation", name="Menu utama" if language == "id" else "Main menu")
    nav.get_by_role("link", name=words["offers"], exact=True).click()
    look(page, axe, language, "offers-empty")
    page.get_by_role("link", name=words["new_trainer"]).click()
    title = f"Pelatihan pemasaran digital {tag}"
    page.get_by_label(words["title"], exact=True).fill(title)
    page.get_by_label(words["description"], exact=True).fill(
        "Enam sesi praktik media sosial untuk UMKM perempuan.")
    page.get_by_label(words["topic"], exact=True).check()
    page.get_by_label(words["capacity"], exact=True).fill("6")
    page.get_by_label(words["from"], exact=True).fill(str(today_wib()))
    page.get_by_label(words["to"], exact=True).fill(str(today_wib() + timedelta(days=90)))
    page.get_by_label(words["regions"], exact=True).fill("32.75.11")
    page.get_by_label(words["onsite"], exact=True).check()
    look(page, axe, language, "offer-form")
    page.get_by_role("button", name=words["save_draft"]).click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    look(page, axe, language, "offer")
    page.get_by_role("button", name=words["submit"], exact=True).click()
    expect(page.locator(".tag").first).to_have_text(words["submitted"])

    nav.get_by_role("link", name=words["offers"], exact=True).click()
    row = page.get_by_role("row").filter(has_text=title)
    expect(row).to_contain_text(words["submitted"])
    look(page, axe, language, "offers")

    for link, shot in (("inbox", "inbox"), ("notifications", "preferences"),
                       ("team", "team"), ("proposals", "proposals"),
                       ("deliveries", "deliveries")):
        nav.get_by_role("link", name=words[link]).first.click()
        expect(page.locator("h1")).to_be_visible()
        look(page, axe, language, shot)
    context.close()
