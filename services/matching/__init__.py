"""The matching service: programmes, needs, match runs, proposals, approvals and reports."""
