"""Shared by the migrations that make version numbers unique per trial (regulatory 0012, consent 0006): fill each
version's trial from the page tree and stop, naming them, on versions that already share a number."""


def fill_trials_and_check(apps, app_label: str, model_name: str, same: tuple[str, ...]) -> None:
    version_model = apps.get_model(app_label, model_name)
    trials = {trial.path: trial.pk for trial in apps.get_model("regulatory", "TrialPage").objects.all()}
    seen: dict[tuple, object] = {}
    clashes = []
    for version in version_model.objects.order_by("path"):
        trial_id = next((pk for path, pk in trials.items() if version.path.startswith(path)), None)
        version_model.objects.filter(pk=version.pk).update(trial_id=trial_id)
        key = (trial_id, *(getattr(version, name) for name in same), version.version_number)
        if trial_id is not None and key in seen:
            clashes.append(f"«{seen[key].title}» (page {seen[key].pk}) and «{version.title}» (page {version.pk})")
        seen.setdefault(key, version)
    if clashes:
        raise RuntimeError(
            f"{model_name}: versions of one trial share a version number, which the database will now refuse: "
            + "; ".join(clashes) + ". Give the version that was never approved another number (in its editor, or "
            "in the shell) and migrate again.")
