"""Words for the codes the APIs use (kinds, units, modes, statuses, roles, explanation
parts), in the reader's language. Templates get them as the global `labels`."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

KINDS = {"funding": _l("Funding"), "module": _l("Module"), "trainer": _l("Trainer"),
         "facility": _l("Facility")}
ORGANISATION_KINDS = {"company": _l("Company"), "university": _l("University"),
                      "ngo": _l("NGO"), "government": _l("Government")}
UNITS = {"rupiah": _l("rupiah"), "sessions": _l("sessions"), "seats": _l("seats"),
         "units": _l("units")}
MODES = {"onsite": _l("On site"), "online": _l("Online"), "hybrid": _l("Hybrid")}
LANGUAGES = {"id": "Bahasa Indonesia", "en": "English"}
ROLES = {"partner_admin": _l("Partner administrator"), "partner_member": _l("Partner member"),
         "dp3a_officer": _l("DP3A officer"), "dp3a_admin": _l("DP3A administrator"),
         "coordinator": _l("Coordinator")}
STATUSES = {
    # offers
    "draft": _l("Draft"), "submitted": _l("Submitted"), "active": _l("Active"),
    "exhausted": _l("Used up"), "expired": _l("Expired"), "withdrawn": _l("Withdrawn"),
    # organisations
    "pending": _l("Awaiting verification"), "verified": _l("Verified"),
    "rejected": _l("Rejected"), "suspended": _l("Suspended"),
    # proposals
    "proposed": _l("Proposed"), "approved": _l("Approved"), "accepted": _l("Accepted"),
    "fulfilled": _l("Delivered"), "declined": _l("Declined"), "superseded": _l("Superseded"),
    "stale": _l("Stale"),
    # needs and runs
    "open": _l("Open"), "partially_matched": _l("Partly matched"), "matched": _l("Matched"),
    "cancelled": _l("Cancelled"), "queued": _l("Queued"), "running": _l("Running"),
    "succeeded": _l("Succeeded"), "failed": _l("Failed"),
    # bulk decisions
    "unchanged": _l("Unchanged"),
}
PHASES = {"fetching_offers": _l("Reading the active offers"), "scoring": _l("Scoring"),
          "solving": _l("Finding the best assignment"), "saving": _l("Saving proposals")}
RULES = {"same_kind": _l("Same kind of help"), "same_unit": _l("Same unit"),
         "offer_active": _l("Offer active, organisation verified"),
         "capacity": _l("Capacity left"), "windows_overlap": _l("Periods overlap"),
         "delivery": _l("Can be delivered in the need's region"),
         "shared_topic": _l("At least one shared topic"),
         "not_excluded": _l("Organisation not excluded by the need")}
COMPONENTS = {"topic_fit": _l("Topic fit"), "text_fit": _l("Similar descriptions"),
              "proximity": _l("Proximity"), "ring1": _l("Near the organisation's sites"),
              "window_fit": _l("Period fit"), "quantity_fit": _l("Quantity fit"),
              "track_record": _l("Track record")}


def as_globals() -> dict[str, dict]:
    return {"kinds": KINDS, "organisation_kinds": ORGANISATION_KINDS, "units": UNITS,
            "modes": MODES, "languages": LANGUAGES, "roles": ROLES, "statuses": STATUSES,
            "rules": RULES, "components": COMPONENTS, "phases": PHASES}
