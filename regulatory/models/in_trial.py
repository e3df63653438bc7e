"""The one way to ask which trial a page belongs to."""


class InTrial:
    """Mixin of every page that lives below a trial page (protocol, correspondence, consent forms): `page.trial`."""

    @property
    def trial(self):
        """The trial page above this page (one query), or None for a page not (yet) placed under a trial."""
        from .trials import TrialPage

        if not self.path:
            return None
        return TrialPage.objects.ancestor_of(self).first()
