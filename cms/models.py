from django.utils.translation import gettext_lazy as _
from wagtail.models import Page

# What the home page shows, added by the apps above cms from their AppConfig.ready() (regulatory: the user's
# trials, sites and what they can do): request → context entries.
HOME_CONTEXT: list = []


class HomePage(Page):
    """The root of the site: a logged-in home listing the user's trials, sites and what they can do."""

    parent_page_types = ["wagtailcore.Page"]
    subpage_types = ["regulatory.TrialPage"]
    max_count = 1

    class Meta:
        verbose_name = _("home page")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        for entries in HOME_CONTEXT:
            context.update(entries(request))
        return context
