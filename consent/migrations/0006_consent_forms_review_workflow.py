"""Consent-form versions go through their own review workflow ("Revue des formulaires de consentement — NCT…"),
no longer the protocol's: for each trial, a workflow with the same two signed steps (sponsor QA review, sponsor
approval, same groups) takes over the consent-forms page. Reviews already in progress finish where they started."""

from django.db import migrations

NAME = "Revue des formulaires de consentement — %s"


def own_consent_workflow(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ConsentFormIndexPage = apps.get_model("consent", "ConsentFormIndexPage")
    TrialPage = apps.get_model("regulatory", "TrialPage")
    SignedApprovalTask = apps.get_model("regulatory", "SignedApprovalTask")
    Workflow = apps.get_model("wagtailcore", "Workflow")
    WorkflowPage = apps.get_model("wagtailcore", "WorkflowPage")
    WorkflowTask = apps.get_model("wagtailcore", "WorkflowTask")
    content_type, _created = ContentType.objects.get_or_create(app_label="regulatory", model="signedapprovaltask")
    for index in ConsentFormIndexPage.objects.all():
        link = WorkflowPage.objects.filter(page_id=index.pk).first()
        if link is None:
            continue
        trial = TrialPage.objects.filter(path=index.path[:-4]).first()  # the parent page (treebeard steps of 4)
        if trial is None or link.workflow.name == NAME % trial.nct_number:
            continue
        workflow = Workflow.objects.create(name=NAME % trial.nct_number, active=True)
        for step in WorkflowTask.objects.filter(workflow_id=link.workflow_id).order_by("sort_order"):
            old = SignedApprovalTask.objects.filter(pk=step.task_id).first()
            if old is None:
                continue
            task = SignedApprovalTask.objects.create(name=old.name, active=True, content_type=content_type)
            task.groups.set(old.groups.all())
            WorkflowTask.objects.create(workflow=workflow, task_id=task.pk, sort_order=step.sort_order)
        link.workflow = workflow
        link.save(update_fields=["workflow"])


class Migration(migrations.Migration):

    dependencies = [
        ("consent", "0005_long_fill_in_and_signature_labels"),
        ("regulatory", "0013_review_steps_become_signed_approvals"),
    ]

    operations = [migrations.RunPython(own_consent_workflow, migrations.RunPython.noop)]
