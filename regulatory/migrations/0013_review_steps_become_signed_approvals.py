"""The review steps of every trial's workflows become signed approvals (`SignedApprovalTask`): each group approval
task of a trial's review workflow is replaced by a signed one with the same name and groups, in the same place of
the same workflows; steps in progress move to it (so they are approved with a signature too); the old task is
deactivated, its history kept."""

from django.db import migrations


def sign_review_steps(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    GroupApprovalTask = apps.get_model("wagtailcore", "GroupApprovalTask")
    SignedApprovalTask = apps.get_model("regulatory", "SignedApprovalTask")
    WorkflowTask = apps.get_model("wagtailcore", "WorkflowTask")
    TaskState = apps.get_model("wagtailcore", "TaskState")
    RoleGroup = apps.get_model("regulatory", "RoleGroup")
    trial_groups = set(RoleGroup.objects.values_list("group_id", flat=True))
    content_type, _created = ContentType.objects.get_or_create(app_label="regulatory", model="signedapprovaltask")
    for old in GroupApprovalTask.objects.filter(active=True).order_by("pk"):
        groups = list(old.groups.all())
        if not groups or not {g.pk for g in groups} <= trial_groups:
            continue  # not a trial's review step (Wagtail's default "Moderators approval", a site's own)
        new = SignedApprovalTask.objects.create(name=old.name, active=True, content_type=content_type)
        new.groups.set(groups)
        WorkflowTask.objects.filter(task_id=old.pk).update(task_id=new.pk)
        TaskState.objects.filter(task_id=old.pk, status="in_progress").update(task_id=new.pk)
        old.active = False
        old.save(update_fields=["active"])


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("regulatory", "0012_approval_signatures_signed_approval_task"),
        ("wagtailcore", "0098_apitoken"),
    ]

    operations = [migrations.RunPython(sign_review_steps, migrations.RunPython.noop)]
