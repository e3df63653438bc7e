from django.utils.translation import gettext_lazy as _
from wagtail.models import Page


class HomePage(Page):
    """The root of the site: a logged-in home listing the user's trials, sites and what they can do."""

    parent_page_types = ["wagtailcore.Page"]
    subpage_types = ["regulatory.TrialPage"]
    max_count = 1

    class Meta:
        verbose_name = _("home page")

    def get_context(self, request, *args, **kwargs):
        from regulatory.selectors import dashboard

        context = super().get_context(request, *args, **kwargs)
        context["dashboard"] = dashboard(user=request.user)
        return context
