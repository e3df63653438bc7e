from django.core.management.base import BaseCommand, CommandError

from regulatory.audit import verify_chain
from regulatory.models import AuditEntry


class Command(BaseCommand):
    help = "Check the audit trail's hash chain: exit 0 when intact, 1 naming the first bad entry otherwise."

    def handle(self, *args, **options):
        failure = verify_chain()
        if failure is not None:
            entry, problem = failure
            when = entry.timestamp.strftime("%Y-%m-%d %H:%M:%S")
            raise CommandError(f"Audit trail broken at entry #{entry.sequence} (id {entry.pk}, {when} UTC, "
                               f"{entry.action}): {problem}.")
        self.stdout.write(self.style.SUCCESS(f"Audit trail intact: {AuditEntry.objects.count()} entries chained."))
