"""Wagtail admin viewsets whose every view is scoped, object by object, by the registered permission policy.

Wagtail's generic views check a permission without an object (can this user change *some* site?), then
load any object by its primary key. Here the listing is filtered and each object view answers 404 when the
policy refuses that very object.
"""

from django.http import Http404
from wagtail.admin.views import generic
from wagtail.admin.views.generic.history import HistoryView
from wagtail.admin.views.generic.usage import UsageView
from wagtail.admin.viewsets.model import ModelViewSet


class ScopedObjectMixin:
    instance_actions: tuple[str, ...] = ("view", "change")

    def get_object(self, *args, **kwargs):
        obj = super().get_object(*args, **kwargs)
        if not self.permission_policy.user_has_any_permission_for_instance(
            self.request.user, list(self.instance_actions), obj
        ):
            raise Http404
        return obj


class ScopedIndexView(generic.IndexView):
    def get_base_queryset(self):
        visible = self.permission_policy.instances_user_has_any_permission_for(self.request.user, ["view", "change"])
        return super().get_base_queryset().filter(pk__in=visible.values("pk"))


class ScopedEditView(ScopedObjectMixin, generic.EditView):
    instance_actions = ("change",)


class ScopedDeleteView(ScopedObjectMixin, generic.DeleteView):
    instance_actions = ("delete",)


class ScopedInspectView(ScopedObjectMixin, generic.InspectView):
    pass


class ScopedHistoryView(ScopedObjectMixin, HistoryView):
    pass


class ScopedUsageView(ScopedObjectMixin, UsageView):
    pass


class ScopedModelViewSet(ModelViewSet):
    index_view_class = ScopedIndexView
    edit_view_class = ScopedEditView
    delete_view_class = ScopedDeleteView
    inspect_view_class = ScopedInspectView
    history_view_class = ScopedHistoryView
    usage_view_class = ScopedUsageView
    copy_view_enabled = False
