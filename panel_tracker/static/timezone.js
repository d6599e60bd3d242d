// The time-zone form: offer the browser's own zone when it is not the one saved. The page
// works without this script (the field takes any IANA name); it only saves typing.
(function () {
  "use strict";
  const form = document.querySelector(".time-zone-form");
  if (!form || typeof Intl === "undefined") return;
  let zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return; }
  const input = form.querySelector("input[name=time_zone]");
  const known = [...form.querySelectorAll("#time-zones option")].some((o) => o.value === zone);
  if (!input || !zone || !known || zone === form.dataset.current) return;
  const hint = form.querySelector(".browser-zone");
  hint.querySelector(".browser-zone-name").textContent = zone;
  hint.hidden = false;
  hint.querySelector(".use-browser-zone").addEventListener("click", () => {
    input.value = zone;
    input.focus();
  });
})();
