"""Withdrawals recorded before scopes existed meant the end of participation: study treatment, follow-up visits and
further data collection stopped at the recorded end, and the use of the data already collected too where an
objection was recorded. Versions already made effective opened re-consent tasks: their change counts as
substantive, as it was treated."""

from django.db import migrations

ORDER = ("treatment", "follow_up", "data_collection", "data_use")


def scope_existing(apps, schema_editor):
    Participant = apps.get_model("consent", "Participant")
    Withdrawal = apps.get_model("consent", "Withdrawal")
    AuditEntry = apps.get_model("regulatory", "AuditEntry")
    for participant in Participant.objects.filter(status="withdrawn", included_at__isnull=False).iterator():
        entry = (AuditEntry.objects.filter(object_type="consent.participant", object_id=str(participant.pk),
                                           action="participant.withdrawn").order_by("-timestamp").first())
        recorded_by_id = (entry.actor_id if entry is not None and entry.actor_id else participant.created_by_id)
        at = participant.ended_at or participant.included_at
        asked = "data_use" if participant.objects_to_data_use else "data_collection"
        for scope in ORDER[:ORDER.index(asked) + 1]:
            Withdrawal.objects.get_or_create(participant=participant, scope=scope, defaults={
                "at": at, "reason": participant.end_reason, "recorded_by_id": recorded_by_id,
                "implied_by": "" if scope == asked else asked})


def judge_existing(apps, schema_editor):
    Version = apps.get_model("consent", "ConsentFormVersionPage")
    Version.objects.filter(effectivities__isnull=False, change_kind="").update(change_kind="substantive")


class Migration(migrations.Migration):

    dependencies = [
        ("consent", "0012_scoped_withdrawal_and_change_judgement"),
        ("regulatory", "0017_fhir_api_tokens"),
    ]

    operations = [
        migrations.RunPython(scope_existing, migrations.RunPython.noop),
        migrations.RunPython(judge_existing, migrations.RunPython.noop),
    ]
