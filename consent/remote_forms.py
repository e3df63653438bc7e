"""The forms of a remote consent: the investigator's invitation, the relative's code, the relative's consent, and
the investigator's countersignature."""

from django import forms
from django.core import signing
from django.utils.translation import gettext_lazy as _

from .forms import PARTICIPANT_CODE_LABEL

ATTEMPTS_SALT = "consent.remote-comprehension-attempts"


class RemoteInviteForm(forms.Form):
    version = forms.TypedChoiceField(label=_("Form"), coerce=int)
    email = forms.EmailField(label=_("The relative's e-mail address"), max_length=254,
                             help_text=_("Used only to send the link and the code; erased as soon as the relative "
                                         "has signed, or when the link expires or is cancelled."),
                             widget=forms.EmailInput(attrs={"autocomplete": "off"}))

    def __init__(self, *args, versions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = [(v.pk, f"{v} ({v.language.upper()})") for v in versions]


class RemoteCodeForm(forms.Form):
    code = forms.CharField(label=_("One-time code (6 digits, sent in a separate e-mail)"), max_length=20,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code",
                                                         "pattern": "[0-9 ]*", "spellcheck": "false"}))


class RemoteCountersignForm(forms.Form):
    username = forms.CharField(label=_("Your user name, to sign"), max_length=150,
                               widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}))
    password = forms.CharField(label=_("Your password, to sign"), strip=False, max_length=4096,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    discussed = forms.BooleanField(
        label=_("I discussed with the relative the questions they first answered wrongly"), required=False)


class RemoteConsentForm(forms.Form):
    """The relative's page: the consent part of the version, the comprehension questions, relationship,
    independence and the hand signature (drawn, or the full name typed: the keyboard's way to sign)."""

    relationship = forms.CharField(label=_("Your relationship to the patient (for example: daughter, husband)"),
                                   max_length=120, required=False,
                                   widget=forms.TextInput(attrs={"autocomplete": "off"}))
    independence_attested = forms.BooleanField(
        label=_("I am independent of the investigator and of the sponsor of the trial"), required=False)
    signature_drawn = forms.CharField(widget=forms.HiddenInput, required=False, max_length=3_000_000)
    signature_typed = forms.CharField(
        label=_("…or, without drawing, type your full name"), required=False, max_length=120,
        widget=forms.TextInput(attrs={"autocomplete": "name"}))
    information_seconds = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0,
                                             max_value=10 ** 7)
    attempts = forms.CharField(widget=forms.HiddenInput, required=False, max_length=2000)

    def __init__(self, *args, version, participant_code: str, **kwargs):
        super().__init__(*args, **kwargs)
        from .blocks import neutral

        self.items: list[tuple[str, object]] = []
        counters = {"consent_statement": 0, "checkbox": 0, "fill_in": 0}
        for position, block in enumerate(neutral(version.consent)):
            kind, value = block["type"], block["value"]
            index = counters.get(kind, 0)
            if kind == "consent_statement":
                name = f"statement_{index}"
                self.fields[name] = forms.ChoiceField(
                    label=value["text"] + (" *" if value.get("mandatory") else ""), widget=forms.RadioSelect,
                    required=False, choices=[("accept", value["accept_label"]), ("refuse", value["refuse_label"])])
                self.items.append(("field", name))
            elif kind == "checkbox":
                name = f"tick_{index}"
                self.fields[name] = forms.BooleanField(label=value["text"], required=False)
                self.items.append(("tick", name))
            elif kind == "fill_in":
                name = f"fill_{index}"
                self.fields[name] = forms.CharField(label=value["label"], required=False, max_length=500)
                if PARTICIPANT_CODE_LABEL.search(value["label"] or ""):
                    self.fields[name].initial = participant_code
                self.items.append(("fill", name))
            elif kind in ("heading", "paragraph", "list", "table"):
                self.items.append(("text", position))
            if kind in counters:
                counters[kind] += 1
        self.counts = counters
        self.questions = version.comprehension_questions()
        for index, question in enumerate(self.questions):
            self.fields[f"question_{index}"] = forms.TypedChoiceField(
                label=f"{index + 1}. {question['question']}", widget=forms.RadioSelect, required=False, coerce=int,
                choices=list(enumerate(question["choices"])))

    def rows(self, stream):
        return [(kind, stream[item] if kind == "text" else self[item]) for kind, item in self.items]

    def previous_attempts(self) -> dict[int, list[int]]:
        """The answers given before this submission (signed by the server when it sent the page back)."""
        try:
            value = signing.loads(self.data.get("attempts") or "", salt=ATTEMPTS_SALT)
        except signing.BadSignature:
            return {}
        if not isinstance(value, dict):
            return {}
        return {int(k): [int(a) for a in v][:10] for k, v in value.items() if str(k).isdigit() and isinstance(v, list)}

    def attempts_now(self) -> dict[int, list[int]]:
        attempts = self.previous_attempts()
        for index in range(len(self.questions)):
            answer = self.cleaned_data.get(f"question_{index}")
            given = attempts.setdefault(index, [])
            # Sent again unchanged (another answer was being corrected): the same attempt, not a new one.
            if answer not in (None, "") and (not given or given[-1] != int(answer)):
                given.append(int(answer))
        attempts = {index: given for index, given in attempts.items() if given}
        return attempts

    def question_rows(self, attempts: dict[int, list[int]] | None = None):
        """Each question with its field and, when its last answer was wrong, the explanation to read."""
        rows = []
        for index, question in enumerate(self.questions):
            given = (attempts or {}).get(index) or []
            wrong = bool(given) and given[-1] != int(question["right_answer"]) - 1
            rows.append({"field": self[f"question_{index}"], "question": question, "wrong": wrong,
                         "right": bool(given) and not wrong})
        return rows

    def clean_signature_typed(self):
        return " ".join(self.cleaned_data.get("signature_typed", "").split())
