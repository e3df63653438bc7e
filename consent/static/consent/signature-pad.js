// A signature drawn with a finger, a stylus or a mouse, sent as a PNG data URL in the hidden input.
// When the form comes back with an error (a mistyped password, say), the signature already drawn is shown again
// and kept, so the signer is not asked to sign twice; "Clear" still starts over.
(function () {
  var DRAWN = /^data:image\/png;base64,[A-Za-z0-9+\/]+={0,2}$/;
  document.querySelectorAll("[data-signature-pad]").forEach(function (pad) {
    var canvas = pad.querySelector("canvas");
    var input = document.getElementById(pad.dataset.signaturePad);
    var context = canvas.getContext("2d");
    var drawing = false, drawn = false, last = null;
    function resize() {
      var ratio = window.devicePixelRatio || 1;
      canvas.width = canvas.clientWidth * ratio;
      canvas.height = canvas.clientHeight * ratio;
      context.setTransform(ratio, 0, 0, ratio, 0, 0);
      context.lineWidth = 2.2; context.lineCap = "round"; context.lineJoin = "round"; context.strokeStyle = "#10243e";
      drawn = false; input.value = "";
    }
    function point(event) {
      var box = canvas.getBoundingClientRect();
      return {x: event.clientX - box.left, y: event.clientY - box.top};
    }
    canvas.addEventListener("pointerdown", function (event) {
      drawing = true; last = point(event); canvas.setPointerCapture(event.pointerId); event.preventDefault();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) return;
      var next = point(event);
      context.beginPath(); context.moveTo(last.x, last.y); context.lineTo(next.x, next.y); context.stroke();
      last = next; drawn = true; event.preventDefault();
    });
    ["pointerup", "pointercancel", "pointerleave"].forEach(function (name) {
      canvas.addEventListener(name, function () {
        if (drawing && drawn) { input.value = canvas.toDataURL("image/png"); }
        drawing = false;
      });
    });
    pad.querySelector("[data-clear]").addEventListener("click", function () {
      context.clearRect(0, 0, canvas.width, canvas.height); drawn = false; input.value = "";
    });
    var posted = input.value;
    resize();
    // Drawn at its size once shown: the consent part is hidden while the information note is read.
    document.addEventListener("trialdocs:consent-part-shown", function () { if (!drawn) resize(); });
    if (DRAWN.test(posted)) {
      var image = new Image();
      image.onload = function () {
        context.drawImage(image, 0, 0, canvas.clientWidth, canvas.clientHeight);
        drawn = true; input.value = posted;
      };
      image.src = posted;
    }
  });
})();
