"""Every event notify knows: who hears of it, an example of its payload (templates are
checked against it), and its default words in Indonesian and English."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Audiences, resolved against the recipient directory (operations/routing.py).
DP3A = "dp3a"                      # DP3A officers and admins
ORG_ADMINS = "organisation_admins"  # partner admins of payload.organisation_id
REGION_COORDINATORS = "region_coordinators"  # coordinators whose regions cover the need
REQUESTER = "requester"            # the person in payload.requested_by
INVITEE = "invitee"                # the address in payload.email (not yet a user)


@dataclass(frozen=True)
class EventKind:
    event_type: str
    audiences: tuple[str, ...]
    sample: dict[str, Any]
    words: dict[str, tuple[str, str]]  # locale -> (subject, text)


ORG = {"organisation_id": "7d0c6a59-1c55-4f0e-9a9b-2f7a0f9f7c11",
       "name": "PT Contoh Niaga Sejahtera (fiktif)"}
PROPOSAL = {
    "proposal_id": "5b4d1502-461d-4134-85af-2897d360ff5d",
    "need_id": "1935ad23-9d05-4522-9a57-e8ff9965fce5", "need_title": "Insentif fasilitator",
    "need_region": "32.75.11.1004", "offer_id": "27fa0b6f-7b72-4ec2-b94c-682f7185d06d",
    "offer_title": "Dana insentif fasilitator", "organisation_id": ORG["organisation_id"],
    "organisation_name": ORG["name"], "quantity": 20000000, "unit": "rupiah",
    "status": "approved",
}

KINDS: list[EventKind] = [
    EventKind("organisation.registered", (DP3A,), {**ORG, "kind": "company",
                                                   "address_region": "32.75.11.1004"}, {
        "id": ("Pendaftaran mitra baru: {{ name }}",
               "{{ name }} mendaftar sebagai mitra dan menunggu verifikasi.\n\n"
               "Periksa di {{ portal_url }}/dp3a/verifikasi"),
        "en": ("New partner registration: {{ name }}",
               "{{ name }} registered as a partner and awaits verification.\n\n"
               "Review it at {{ portal_url }}/dp3a/verifikasi"),
    }),
    EventKind("organisation.verified", (ORG_ADMINS,), {**ORG, "status": "verified",
                                                       "reason": None}, {
        "id": ("{{ name }} sudah terverifikasi",
               "Yth. {{ recipient_name }},\n\nOrganisasi Anda, {{ name }}, telah diverifikasi "
               "oleh DP3A. Penawaran yang sudah diajukan kini aktif."),
        "en": ("{{ name }} is verified",
               "Dear {{ recipient_name }},\n\nYour organisation, {{ name }}, has been verified "
               "by DP3A. Offers you submitted are now active."),
    }),
    EventKind("organisation.rejected", (ORG_ADMINS,), {**ORG, "status": "rejected",
                                                       "reason": "Dokumen NIB tidak sesuai"}, {
        "id": ("Pendaftaran {{ name }} ditolak",
               "Yth. {{ recipient_name }},\n\nPendaftaran {{ name }} ditolak oleh DP3A.\n"
               "Alasan: {{ reason }}"),
        "en": ("Registration of {{ name }} was declined",
               "Dear {{ recipient_name }},\n\nDP3A declined the registration of {{ name }}.\n"
               "Reason: {{ reason }}"),
    }),
    EventKind("organisation.suspended", (ORG_ADMINS,), {**ORG, "status": "suspended",
                                                        "reason": "Laporan belum lengkap"}, {
        "id": ("{{ name }} ditangguhkan",
               "Yth. {{ recipient_name }},\n\nKeanggotaan {{ name }} ditangguhkan oleh DP3A.\n"
               "Alasan: {{ reason }}"),
        "en": ("{{ name }} is suspended",
               "Dear {{ recipient_name }},\n\nDP3A suspended {{ name }}.\nReason: {{ reason }}"),
    }),
    EventKind("offer.activated", (ORG_ADMINS,), {
        "offer_id": PROPOSAL["offer_id"], "organisation_id": ORG["organisation_id"],
        "title": "Pelatih pemasaran digital", "kind": "trainer", "status": "active",
        "remaining": 12, "unit": "sessions", "available_to": "2027-11-30"}, {
        "id": ("Penawaran aktif: {{ title }}",
               "Penawaran \"{{ title }}\" kini aktif dan dapat dicocokkan dengan kebutuhan "
               "kelas hingga {{ available_to | wib('id') }}."),
        "en": ("Offer active: {{ title }}",
               "Your offer \"{{ title }}\" is now active and can be matched with class needs "
               "until {{ available_to | wib('en') }}."),
    }),
    EventKind("offer.expiring", (ORG_ADMINS,), {
        "offer_id": PROPOSAL["offer_id"], "organisation_id": ORG["organisation_id"],
        "title": "Pelatih pemasaran digital", "kind": "trainer", "status": "active",
        "remaining": 4, "unit": "sessions", "available_to": "2027-11-30"}, {
        "id": ("Penawaran segera berakhir: {{ title }}",
               "Penawaran \"{{ title }}\" berakhir pada {{ available_to | wib('id') }}; "
               "sisa kapasitas {{ remaining }}. Perpanjang bila masih tersedia."),
        "en": ("Offer ending soon: {{ title }}",
               "Your offer \"{{ title }}\" ends on {{ available_to | wib('en') }} with "
               "{{ remaining }} left. Extend it if it is still available."),
    }),
    EventKind("match_run.finished", (REQUESTER,), {
        "run_id": "9e731d65-f069-42ad-96db-c934eb523460", "status": "succeeded",
        "requested_by": "0b1f0f0e-8a57-4b5f-9d0e-2f3b7a1c9d10", "proposals": 12, "needs": 5,
        "demand_covered": {"trainer/sessions": 6}, "error": None}, {
        "id": ("Pencocokan selesai: {{ proposals | default(0) }} usulan",
               "Proses pencocokan {{ 'selesai' if status == 'succeeded' else 'gagal' }}. "
               "{{ proposals | default(0) }} usulan untuk {{ needs | default(0) }} kebutuhan "
               "siap ditinjau.{% if error %}\nKeterangan: {{ error }}{% endif %}"),
        "en": ("Matching finished: {{ proposals | default(0) }} proposals",
               "The match run {{ 'succeeded' if status == 'succeeded' else 'failed' }}. "
               "{{ proposals | default(0) }} proposals for {{ needs | default(0) }} needs are "
               "ready for review.{% if error %}\nDetail: {{ error }}{% endif %}"),
    }),
]

_QUANTITY = ("{% if unit == 'rupiah' %}{{ quantity | rupiah }}{% else %}{{ quantity }} "
             "{{ unit }}{% endif %}")

for event_type, audiences, status, words in [
    ("proposal.approved", (ORG_ADMINS, REGION_COORDINATORS), "approved", {
        "id": ("Kecocokan disetujui: {{ need_title }}",
               "DP3A menyetujui bantuan {{ organisation_name }} (\"{{ offer_title }}\") untuk "
               "kebutuhan \"{{ need_title }}\": " + _QUANTITY + ".\n\nMitra diminta menerima "
               "atau menolak di {{ portal_url }}."),
        "en": ("Match approved: {{ need_title }}",
               "DP3A approved help from {{ organisation_name }} (\"{{ offer_title }}\") for the "
               "need \"{{ need_title }}\": " + _QUANTITY + ".\n\nThe partner is asked to accept "
               "or decline at {{ portal_url }}."),
    }),
    ("proposal.rejected", (REGION_COORDINATORS,), "rejected", {
        "id": ("Usulan ditolak: {{ need_title }}",
               "DP3A menolak usulan {{ organisation_name }} untuk \"{{ need_title }}\"."
               "{% if reason %}\nAlasan: {{ reason }}{% endif %}"),
        "en": ("Proposal rejected: {{ need_title }}",
               "DP3A rejected the proposal from {{ organisation_name }} for "
               "\"{{ need_title }}\".{% if reason %}\nReason: {{ reason }}{% endif %}"),
    }),
    ("proposal.accepted", (DP3A, REGION_COORDINATORS), "accepted", {
        "id": ("Mitra menerima: {{ need_title }}",
               "{{ organisation_name }} menerima untuk memberikan " + _QUANTITY +
               " bagi \"{{ need_title }}\"."),
        "en": ("Partner accepted: {{ need_title }}",
               "{{ organisation_name }} accepted to give " + _QUANTITY +
               " for \"{{ need_title }}\"."),
    }),
    ("proposal.declined", (DP3A,), "declined", {
        "id": ("Mitra menolak: {{ need_title }}",
               "{{ organisation_name }} menolak memberikan bantuan untuk \"{{ need_title }}\"; "
               "kebutuhan dibuka kembali.{% if reason %}\nAlasan: {{ reason }}{% endif %}"),
        "en": ("Partner declined: {{ need_title }}",
               "{{ organisation_name }} declined to help with \"{{ need_title }}\"; the need is "
               "open again.{% if reason %}\nReason: {{ reason }}{% endif %}"),
    }),
    ("proposal.stale", (DP3A, ORG_ADMINS), "stale", {
        "id": ("Kecocokan tidak berlaku lagi: {{ need_title }}",
               "Kecocokan {{ organisation_name }} untuk \"{{ need_title }}\" tidak berlaku "
               "lagi.{% if reason %}\nAlasan: {{ reason }}{% endif %}"),
        "en": ("Match no longer valid: {{ need_title }}",
               "The match of {{ organisation_name }} for \"{{ need_title }}\" no longer "
               "stands.{% if reason %}\nReason: {{ reason }}{% endif %}"),
    }),
    ("delivery.confirmed", (DP3A, ORG_ADMINS), "fulfilled", {
        "id": ("Bantuan diterima: {{ need_title }}",
               "Koordinator mengonfirmasi bantuan {{ organisation_name }} untuk "
               "\"{{ need_title }}\" dengan nilai {{ rating }}/5. Terima kasih!"),
        "en": ("Help received: {{ need_title }}",
               "The coordinator confirmed the help of {{ organisation_name }} for "
               "\"{{ need_title }}\", rated {{ rating }}/5. Thank you!"),
    }),
]:
    sample = {**PROPOSAL, "status": status, "reason": "Contoh alasan", "rating": 5,
              "delivered_quantity": PROPOSAL["quantity"]}
    KINDS.append(EventKind(event_type, audiences, sample, words))

KINDS += [
    EventKind("feedback.requested", (REGION_COORDINATORS,), {
        "need_id": PROPOSAL["need_id"], "need_title": "Pelatih pemasaran digital",
        "need_region": "32.75.11.1004", "window_end": "2027-05-31"}, {
        "id": ("Mohon beri penilaian: {{ need_title }}",
               "Periode kebutuhan \"{{ need_title }}\" telah berakhir pada "
               "{{ window_end | wib('id') }}. Mohon konfirmasi bantuan yang diterima dan beri "
               "penilaian di {{ portal_url }}."),
        "en": ("Please rate the help: {{ need_title }}",
               "The need \"{{ need_title }}\" ended on {{ window_end | wib('en') }}. Please "
               "confirm the help received and rate it at {{ portal_url }}."),
    }),
    EventKind("user.invited", (INVITEE,), {
        "invitation_id": "3c9d5b9a-55c1-4a57-9a86-0a4b2a1d7e01",
        "organisation_id": ORG["organisation_id"], "organisation_name": ORG["name"],
        "email": "rekan@contoh.example", "name": "Rekan Kerja", "role": "partner_member",
        "locale": "id", "token": "contoh-token", "expires_at": "2026-12-06T10:00:00+00:00"}, {
        "id": ("Undangan bergabung dengan {{ organisation_name }} di Mitra",
               "Anda diundang bergabung dengan {{ organisation_name }} di Mitra.\n\n"
               "Terima undangan di {{ portal_url }}/undangan/{{ token }} sebelum "
               "{{ expires_at | wib('id') }}."),
        "en": ("Invitation to join {{ organisation_name }} on Mitra",
               "You are invited to join {{ organisation_name }} on Mitra.\n\n"
               "Accept at {{ portal_url }}/undangan/{{ token }} before "
               "{{ expires_at | wib('en') }}."),
    }),
]

BY_TYPE: dict[str, EventKind] = {kind.event_type: kind for kind in KINDS}
# Events that only keep the recipient directory in step; nobody is notified of them.
DIRECTORY_EVENTS = ("user.created", "user.updated")


def sample_context(event_type: str, locale: str) -> dict[str, Any]:
    """What a template of this event type may use, with example values."""
    return {**BY_TYPE[event_type].sample, "recipient_name": "Ibu Contoh",
            "portal_url": "http://127.0.0.1:8000", "locale": locale}
