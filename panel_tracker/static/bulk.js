// Bulk photo import: a live progress bar, and the label-card groups made visible.
// The pages work without it (the report refreshes itself through <noscript>).
(function () {
  "use strict";

  var section = document.getElementById("progress");
  if (section && section.dataset.finished === "no") {
    var bar = document.getElementById("bulk-progress");
    var label = section.querySelector("label[for=bulk-progress]");
    var counts = {
      accepted: document.getElementById("count-accepted"),
      duplicates: document.getElementById("count-duplicates"),
      skipped: document.getElementById("count-skipped")
    };
    var poll = function () {
      fetch(section.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("status " + response.status);
          return response.json();
        })
        .then(function (s) {
          bar.max = Math.max(s.total, 1);
          bar.value = s.processed;
          bar.textContent = s.percent + "%";
          label.textContent = s.processed + " of " + s.total + " files processed (" + s.percent + "%)";
          Object.keys(counts).forEach(function (k) { if (counts[k]) counts[k].textContent = s[k]; });
          if (s.finished) { window.location.reload(); } else { window.setTimeout(poll, 1500); }
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    };
    window.setTimeout(poll, 1000);
  }

  // Show an item choice only on the rows ticked as label cards.
  var table = document.getElementById("sequence-table");
  if (table) {
    var refresh = function () {
      table.querySelectorAll("tr.seq-row").forEach(function (row) {
        var box = row.querySelector("input.label-card");
        var choice = row.querySelector(".group-item");
        if (box && choice) choice.hidden = !box.checked;
      });
    };
    table.addEventListener("change", function (ev) {
      if (ev.target.classList.contains("label-card")) refresh();
    });
    refresh();
  }
})();
