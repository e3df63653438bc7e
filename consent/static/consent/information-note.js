// The information note before the consent part: the signer scrolls it to the end, then goes on; the page keeps
// how long the note was on the screen until then (the server bounds it by the time the page was sent, which it
// signed). Without JavaScript, both parts are shown and no reading time is recorded.
(function () {
  var note = document.querySelector("[data-information-note]");
  var part = document.querySelector("[data-consent-part]");
  if (!note || !part || note.hasAttribute("data-read")) return;  // back with an error: the note was read
  var scroller = note.querySelector("[data-note-scroll]");
  var done = note.querySelector("[data-note-done]");
  var seconds = document.getElementById(note.dataset.secondsInput);
  var shownAt = Date.now();
  part.hidden = true;
  done.hidden = false;
  done.disabled = true;
  note.querySelector("[data-note-hint]").hidden = false;
  function update() {
    if (scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 8) done.disabled = false;
  }
  scroller.addEventListener("scroll", update);
  window.addEventListener("resize", update);
  update();
  done.addEventListener("click", function () {
    seconds.value = String(Math.round((Date.now() - shownAt) / 1000));
    part.hidden = false;
    done.hidden = true;
    note.classList.add("read");
    document.dispatchEvent(new CustomEvent("trialdocs:consent-part-shown"));
    part.scrollIntoView({block: "start"});
  });
})();
