"""The filing engine files whatever kind of document an app registers: a throwaway source, written here, files
each site's contact details (Reference Model 05.01.01, site level) without a line of the engine changing."""

import datetime

import pytest
from django.urls import reverse

from regulatory import services
from regulatory.models import InvestigationalSite, TmfDocument, TmfLevel
from regulatory.tmf import filing
from regulatory.tmf.filing import Filing

SITE_CONTACT_DETAILS = "05.01.01"


class SiteContactsSource(filing.FiledSource):
    model = InvestigationalSite
    artifacts = (SITE_CONTACT_DETAILS,)
    refile_on_save = (("regulatory.InvestigationalSite", lambda site: site),)
    pdf_preview = False  # plain text

    def objects(self, trial):
        return trial.sites.all()

    def trial_of(self, site):
        return site.trial

    def filings(self, site):
        if site.status == InvestigationalSite.Status.CLOSED:
            return []
        return [Filing(artifact=SITE_CONTACT_DETAILS, level=TmfLevel.SITE, site=site, country=site.country,
                       title=f"Contacts — {site.code}", document_date=datetime.date(2026, 11, 2),
                       series=f"contacts-{site.code}", search_text=site.principal_investigator)]

    def content(self, site, document, base):
        return filing.Content(f"{site.name}: {site.principal_investigator}\n".encode(), base + ".txt", "text/plain")


@pytest.fixture
def site_contacts():
    source = filing.register(SiteContactsSource())
    yield source
    filing.unregister(source.label)


def contact_rows(site):
    return list(TmfDocument.objects.filter(source_type="regulatory.investigationalsite", source_id=str(site.pk))
                .values_list("artifact__number", "level", "site__code", "status", "title"))


def test_a_registered_source_files_refiles_and_serves_its_documents(world, site_contacts, client):
    assert SITE_CONTACT_DETAILS in filing.automatic_artifacts()
    site = services.site_update(actor=world.sponsor, site=world.site_a, principal_investigator="Dr Anne Contact")
    assert contact_rows(site) == [(SITE_CONTACT_DETAILS, "site", "DIJ", "current", "Contacts — DIJ")]

    document = TmfDocument.objects.get(source_type="regulatory.investigationalsite", source_id=str(site.pk))
    data = filing.content(document)
    assert data.data == b"CHU Dijon Bourgogne: Dr Anne Contact\n"
    assert data.filename.endswith(".txt") and data.content_type == "text/plain"
    assert not filing.shows_as_pdf(document)
    client.force_login(world.sponsor)
    response = client.get(reverse("tmf_document_download", args=[world.trial.nct_number, document.pk]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == data.data

    before = TmfDocument.objects.count()
    assert filing.refile_trial(world.trial) >= 1  # every site with contacts, and the trial's other sources
    assert TmfDocument.objects.filter(source_type="regulatory.investigationalsite").count() == len(
        [s for s in world.trial.sites.all() if s.status != InvestigationalSite.Status.CLOSED])
    assert TmfDocument.objects.count() >= before

    services.site_update(actor=world.sponsor, site=site, status=InvestigationalSite.Status.CLOSED)  # gives nothing
    assert contact_rows(site) == [(SITE_CONTACT_DETAILS, "site", "DIJ", "withdrawn", "Contacts — DIJ")]


def test_an_unregistered_kind_is_no_longer_filed(world, site_contacts):
    filing.unregister(site_contacts.label)
    services.site_update(actor=world.sponsor, site=world.site_a, principal_investigator="Dr Anne Contact")
    assert contact_rows(world.site_a) == []
    with pytest.raises(TypeError):
        filing.refile(world.site_a)
