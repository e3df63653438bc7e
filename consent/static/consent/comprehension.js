// Comprehension questions before signing: each answer the signer gives is kept (the attempts, recorded); a wrong
// one shows its explanation, to be discussed and ticked by the person obtaining consent. The signatures open once
// every question is answered and every wrong answer discussed. Without this script the server checks the same.
(function () {
  var section = document.querySelector("[data-comprehension]");
  var part = document.querySelector("[data-signature-part]");
  if (!section || !part) return;
  var questions = Array.prototype.slice.call(section.querySelectorAll("[data-question]"));
  var status = section.querySelector("[data-comprehension-status]");
  function chosen(question) {
    var input = question.querySelector("input[type=radio]:checked");
    return input ? parseInt(input.value, 10) : null;
  }
  function attempts(question) {
    var input = document.getElementById(question.dataset.attemptsInput);
    return input.value ? input.value.split(",") : [];
  }
  function ready() {
    return questions.every(function (question) {
      var answer = chosen(question);
      if (answer === null || attempts(question).length === 0) return false;
      var wrong = attempts(question).some(function (a) { return parseInt(a, 10) !== parseInt(question.dataset.right, 10); });
      return !wrong || question.querySelector("[data-explanation] input[type=checkbox]").checked;
    });
  }
  function update() {
    var wasHidden = part.hidden;
    part.hidden = !ready();
    status.textContent = part.hidden ? "" : status.dataset.open || "";
    // The signature pads take their size once shown
    if (wasHidden && !part.hidden) document.dispatchEvent(new Event("trialdocs:consent-part-shown"));
  }
  status.dataset.open = document.documentElement.lang === "fr" ? "Les signatures sont ouvertes." : "The signatures are open.";
  questions.forEach(function (question) {
    if (attempts(question).some(function (a) { return parseInt(a, 10) !== parseInt(question.dataset.right, 10); })) {
      question.querySelector("[data-explanation]").hidden = false;
    }
    question.querySelector("[data-explanation] input[type=checkbox]").addEventListener("change", update);
  });
  section.querySelector("[data-check-answers]").addEventListener("click", function () {
    questions.forEach(function (question) {
      var answer = chosen(question);
      if (answer === null) return;
      var input = document.getElementById(question.dataset.attemptsInput);
      var list = attempts(question);
      if (list[list.length - 1] !== String(answer)) { list.push(String(answer)); input.value = list.join(","); }
      if (answer !== parseInt(question.dataset.right, 10)) question.querySelector("[data-explanation]").hidden = false;
    });
    update();
  });
  update();
})();
