// A report's builds: follow the progress of those still queued or running by polling the
// report's builds.json, and reload the page when one finishes (its download link, size
// and hashes appear). Without this script the page refreshes itself (<noscript>).
(function () {
  "use strict";
  var list = document.getElementById("build-list");
  if (!list || !list.querySelector("tr[data-finished=no]")) return;
  var poll = function () {
    fetch(list.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (data) {
        var finishedOne = false;
        data.builds.forEach(function (b) {
          var row = document.getElementById("build-" + b.id);
          if (!row) return;
          var bar = row.querySelector("progress");
          if (bar) { bar.value = b.progress; bar.textContent = b.progress + "%"; }
          var state = row.querySelector(".build-state");
          if (state && state.textContent !== b.state) {
            state.textContent = b.state;
            state.className = "status status-" + b.state + " build-state";
          }
          if (b.finished && row.dataset.finished === "no") finishedOne = true;
        });
        if (finishedOne) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  };
  window.setTimeout(poll, 700);
})();
