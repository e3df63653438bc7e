// Word import form: once a file is chosen, ask the server for the title the document proposes and fill the title
// field with it (unless the sponsor already typed one), so the sponsor checks and confirms it before importing.
(function () {
  var form = document.querySelector("[data-import-form]");
  if (!form) return;
  var file = form.querySelector("[data-import-file]");
  var title = form.querySelector("[data-import-title]");
  var note = form.querySelector("[data-import-title-note]");
  if (!file || !title || !note) return;
  var proposed = null;  // the value this script put in the field, to replace it when another file is chosen
  function say(text) { note.textContent = text; note.hidden = !text; }
  function field(name) { var element = form.elements[name]; return element ? element.value : ""; }
  file.addEventListener("change", function () {
    if (!file.files.length) return;
    if (title.value && title.value !== proposed) return;  // the sponsor's own title stays
    var data = new FormData();
    ["csrfmiddlewaretoken", "trial", "kind", "language", "version_number"].forEach(function (name) {
      data.append(name, field(name));
    });
    data.append("file", file.files[0]);
    say(note.dataset.reading || "…");
    fetch(form.dataset.titleUrl, {method: "POST", body: data, credentials: "same-origin"})
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (answer.title) {
          title.value = proposed = answer.title;
          say(note.dataset.proposed || "");
        } else {
          say(answer.error || "");
        }
      })
      .catch(function () { say(""); });
  });
})();
