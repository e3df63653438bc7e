from django.db import migrations


def remove_default_groups(apps, schema_editor):
    """Wagtail's 'Editors' and 'Moderators' may edit every page of the site, every trial included.

    TrialDocs gives page rights per trial (its sponsor group) only, so the two site-wide groups go, unless
    someone already belongs to one.
    """
    Group = apps.get_model("auth.Group")
    Group.objects.filter(name__in=["Editors", "Moderators"], user__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("cms", "0002_create_homepage"), ("wagtailcore", "0098_apitoken")]

    operations = [migrations.RunPython(remove_default_groups, migrations.RunPython.noop)]
