from django.db import migrations


def retire_default_workflow(apps, schema_editor):
    """Wagtail's default workflow "Moderators approval" (on the root page, so on every page outside a trial's
    review workflow) asks the "Moderators" group, which migration 0003 removed: nobody but a superuser could
    approve, and the admin offered "Soumettre à Moderators approval", untranslated. Pages outside a trial's review
    workflow are published by whoever the permissions authority lets publish. Only that untouched default is
    retired: a workflow someone gave groups to, or renamed, is left alone."""
    Workflow = apps.get_model("wagtailcore", "Workflow")
    WorkflowPage = apps.get_model("wagtailcore", "WorkflowPage")
    WorkflowTask = apps.get_model("wagtailcore", "WorkflowTask")
    GroupApprovalTask = apps.get_model("wagtailcore", "GroupApprovalTask")
    for workflow in Workflow.objects.filter(name="Moderators approval", active=True):
        task_ids = WorkflowTask.objects.filter(workflow=workflow).values_list("task_id", flat=True)
        if GroupApprovalTask.objects.filter(pk__in=task_ids, groups__isnull=False).exists():
            continue
        WorkflowPage.objects.filter(workflow=workflow).delete()
        workflow.active = False
        workflow.save(update_fields=["active"])


class Migration(migrations.Migration):

    dependencies = [
        ("cms", "0003_remove_wagtail_default_groups"),
        ("wagtailcore", "0048_add_default_workflows"),
    ]

    operations = [migrations.RunPython(retire_default_workflow, migrations.RunPython.noop)]
