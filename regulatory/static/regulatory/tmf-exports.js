/* TMF exports page: follow the exports still queued or running (their rows carry data-status-url) until they end
   or stall, then reload to show the download link or the retry button. */
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-status-url]"));
  if (!rows.length) { return; }
  function poll() {
    rows.forEach(function (row) {
      fetch(row.getAttribute("data-status-url"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (status) {
          if (!status) { return; }
          row.querySelector("progress").value = status.percent;
          row.querySelector(".count").textContent = status.done + " / " + status.total;
          row.querySelector(".state").textContent = status.label;
          if (status.state === "done" || status.state === "failed" || status.state === "stalled") {
            window.location.reload();
          }
        })
        .catch(function () {});
    });
  }
  window.setInterval(poll, 1000);
})();
