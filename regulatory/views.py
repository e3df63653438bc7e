from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext_lazy as _

from . import audit, permissions, selectors
from .forms import LoginForm
from .models import TrialPage


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True


class PasswordChangeView(auth_views.PasswordChangeView):
    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record(actor=self.request.user, action="auth.password_changed", obj=self.request.user,
                     object_repr=self.request.user.get_username())
        messages.success(self.request, _("Your password has been changed."))
        return response


def site_detail(request, *, trial: TrialPage, code: str):
    """A site's page, reached under its trial's URL. Another site's page is a 404, never a 403."""
    site = selectors.site_for_user(user=request.user, trial=trial, code=code)
    if site is None:
        raise Http404
    can_manage = permissions.can_manage_site(request.user, site)
    return TemplateResponse(request, "regulatory/site_detail.html", {
        "page": trial,
        "trial": trial,
        "site": site,
        "team": selectors.site_team(site=site),
        "can_manage": can_manage,
        "edit_url": reverse("investigational_sites:edit", args=[site.pk]) if can_manage else "",
    })
