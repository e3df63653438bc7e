"""Each version number once per trial (and, for consent forms, per kind and language), held by the database."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from regulatory.migration_support import fill_trials_and_check


def fill_trials(apps, schema_editor):
    fill_trials_and_check(apps, 'regulatory', 'ProtocolVersionPage', ())


class Migration(migrations.Migration):

    dependencies = [
        ('regulatory', '0015_tmf_search_folds_accents'),
        ('wagtaildocs', '0014_alter_document_file_size'),
        migrations.swappable_dependency(settings.WAGTAIL_PAGE_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='protocolversionpage',
            name='trial',
            field=models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='regulatory.trialpage', verbose_name='trial'),
        ),
        migrations.RunPython(fill_trials, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='protocolversionpage',
            constraint=models.UniqueConstraint(fields=('trial', 'version_number'), name='one_protocol_version_number_per_trial'),
        ),
    ]
