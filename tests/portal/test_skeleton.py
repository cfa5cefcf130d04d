"""The portal's frame: languages, sign-in and out, security headers and cookies, CSRF, the
friendly pages when a service is down or a page is refused."""
from __future__ import annotations

from services.portal import create_app
from tests.portal.conftest import DEAD_URL, Portal, portal_config, text


def test_home_is_in_indonesian_by_default_and_english_on_request(portal: Portal) -> None:
    page = portal.get("/")
    assert page.status_code == 200
    assert '<html lang="id">' in page.get_data(as_text=True)
    assert "Masuk" in text(page) and "Daftarkan organisasi Anda" in text(page)

    english = portal.get("/?lang=en")
    assert '<html lang="en">' in english.get_data(as_text=True)
    assert "Register your organisation" in text(english)
    # The choice is remembered in the session, on every page.
    assert "Sign in" in text(portal.get("/masuk"))
    assert "Masuk" in text(portal.get("/masuk?lang=id"))


def test_every_page_has_the_skip_link_and_the_language_switch(portal: Portal) -> None:
    for path in ("/", "/masuk", "/daftar"):
        body = portal.get(path).get_data(as_text=True)
        assert 'href="#main"' in body and 'id="main"' in body
        assert "lang=en" in body and "lang=id" in body


def test_security_headers(portal: Portal) -> None:
    page = portal.get("/")
    headers = page.headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Request-ID"]


def test_sign_in_and_out(portal: Portal, people) -> None:
    person = people.partner_admin()
    page = portal.sign_in(person)
    assert f"Selamat datang, {person.name}." in text(page)
    assert "Keluar" in text(page)  # the sign-out button in the menu
    page = portal.submit("/", {}, action="/keluar")
    assert "Anda sudah keluar." in text(page)
    assert "Keluar" not in text(page)


def test_a_wrong_password_is_said_so_and_the_email_kept(portal: Portal, people) -> None:
    person = people.partner_admin()
    page = portal.submit("/masuk?lang=en", {"email": person.email, "password": "wrong-wrong-1"})
    assert page.status_code == 401
    assert "The email or password is not right." in text(page)
    assert f'value="{person.email}"' in page.get_data(as_text=True)


def test_a_form_without_its_csrf_token_is_refused(portal: Portal, people) -> None:
    person = people.partner_admin()
    page = portal.client.post("/masuk", data={"email": person.email, "password": "x" * 12})
    assert page.status_code == 400
    assert "Formulir ini sudah kedaluwarsa" in text(page)
    assert "Keluar" not in text(portal.get("/"))  # not signed in


def test_the_session_cookie_is_secure_http_only_and_lax(system, people) -> None:
    config = portal_config(system.portal.config["PARTNERS_URL"], DEAD_URL, DEAD_URL)
    del config["SESSION_COOKIE_SECURE"]  # the default: secure
    secure = Portal(create_app(config).test_client())
    person = people.partner_admin()
    token = secure.csrf_token("/masuk")
    page = secure.client.post("/masuk", data={"csrf_token": token, "email": person.email,
                                              "password": "correct horse battery"})
    assert page.status_code == 302
    cookie = page.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Strict-Transport-Security" in page.headers


def test_pages_for_people_send_strangers_to_sign_in(portal: Portal) -> None:
    page = portal.get("/kotak-masuk")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/masuk?next=/kotak-masuk")


def test_a_service_that_does_not_answer_gives_the_friendly_503(dead_portal) -> None:
    portal = Portal(dead_portal.test_client())
    page = portal.submit("/masuk", {"email": "someone@example.org",
                                    "password": "long enough pw"})
    assert page.status_code == 503
    assert "Layanan sedang tidak tersedia" in text(page)
    assert "Tidak ada yang hilang." in text(page)
    assert "Traceback" not in page.get_data(as_text=True)
    english = portal.get("/masuk?lang=en")
    assert english.status_code == 200  # the sign-in page itself needs no service


def test_an_unknown_page_is_a_friendly_404(portal: Portal) -> None:
    page = portal.get("/no-such-page?lang=en")
    assert page.status_code == 404
    assert "Not found" in text(page)
