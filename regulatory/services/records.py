"""Creating protocol versions and correspondence from code (the demo loader, imports, scripts).

The Wagtail admin creates the same pages through its editor; both paths are audited.
"""

from collections.abc import Iterable

from django.db import transaction

from .. import audit
from ..models import (
    CorrespondenceIndexPage,
    CorrespondenceItemPage,
    CorrespondenceLink,
    ProtocolPage,
    ProtocolVersionPage,
    SubmissionPage,
)

VERSION_AUDIT_FIELDS = (
    "title", "version_number", "version_date", "amendment_number", "substantial", "summary_of_changes", "rationale",
    "affected_sections", "affected_consent_kinds", "non_substantial_justification",
)


def _add(*, actor, parent, page, publish: bool):
    page.live = False  # a page is live only once a revision is published
    parent.add_child(instance=page)
    revision = page.save_revision(user=actor, log_action=False)
    if publish:
        revision.publish(user=actor, log_action=False)
        page.refresh_from_db()
    return page


@transaction.atomic
def protocol_version_create(*, actor, protocol: ProtocolPage, publish: bool = False, **fields) -> ProtocolVersionPage:
    """A new protocol version as a draft (or published straight away, for historical records)."""
    fields.setdefault("slug", f"v{fields['version_number'].replace('.', '-')}")
    version = _add(actor=actor, parent=protocol, page=ProtocolVersionPage(**fields), publish=publish)
    audit.record(actor=actor, action="protocolversion.created", obj=version,
                 changes=audit.diff({}, audit.snapshot(version, VERSION_AUDIT_FIELDS)))
    return version


@transaction.atomic
def submission_create(*, actor, index: CorrespondenceIndexPage, **fields) -> SubmissionPage:
    submission = _add(actor=actor, parent=index, page=SubmissionPage(**fields), publish=True)
    audit.record(actor=actor, action="submission.created", obj=submission,
                 changes=audit.diff({}, audit.snapshot(submission, ("title", "correspondent", "correspondent_name",
                                                                    "reference"))))
    return submission


@transaction.atomic
def correspondence_item_create(*, actor, submission: SubmissionPage, concerns: Iterable = (), **fields
                               ) -> CorrespondenceItemPage:
    """File one letter in a submission, linked to the versions it concerns, and publish it."""
    item = CorrespondenceItemPage(**fields)
    item.links = [CorrespondenceLink(page=page) for page in concerns]
    _add(actor=actor, parent=submission, page=item, publish=True)
    audit.record(actor=actor, action="correspondenceitem.created", obj=item, changes={
        **audit.diff({}, audit.snapshot(item, ("title", "direction", "date", "item_type", "correspondent",
                                               "reference"))),
        "concerns": [None, [str(page) for page in concerns]],
    })
    return item
