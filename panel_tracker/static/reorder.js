// Reordering the rows of a list (a report's annexes, an annex's blocks) by drag-and-drop.
// Every way of moving a row posts the new order of ids (JSON, with the CSRF token in a
// header) to the list's data-order-url, then renumbers the rows:
//   - a mouse drags a row (HTML5 drag events);
//   - a finger or a pen drags the row's handle (pointer events);
//   - the keyboard moves the focused handle with the arrow keys (Home and End: to the ends);
//   - the Up and Down buttons move the row without reloading the page.
// Without this script the Up and Down buttons are plain forms and the server moves the row.
(function () {
  "use strict";

  function setUp(list) {
    var url = list.dataset.orderUrl;
    var token = list.dataset.csrf;
    var label = list.dataset.label || "Row";
    var status = document.getElementById(list.id + "-status");
    var rows = function () { return Array.prototype.slice.call(list.querySelectorAll(":scope > li")); };
    var order = function () { return rows().map(function (li) { return li.dataset.id; }); };
    var saved = order().join(",");
    var dragging = null;

    function say(text) { if (status) status.textContent = text; }

    function renumber() {
      var all = rows();
      all.forEach(function (li, i) {
        var number = li.querySelector(".number");
        if (number) number.textContent = label + " " + (i + 1);
        var handle = li.querySelector(".handle");
        if (handle) handle.setAttribute("aria-label", "Move " + label.toLowerCase() + " " + (i + 1));
        li.querySelectorAll("button[data-step]").forEach(function (b) {
          b.disabled = b.dataset.step === "up" ? i === 0 : i === all.length - 1;
        });
      });
    }

    function save(moved) {
      var now = order();
      if (now.join(",") === saved) return;
      renumber();
      list.classList.add("saving");
      fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": token },
        body: JSON.stringify({ order: now.map(Number) })
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (!response.ok) throw new Error(body.error || ("status " + response.status));
          return body;
        });
      }).then(function () {
        saved = now.join(",");
        list.classList.remove("saving");
        list.dataset.saved = saved;
        say((moved ? moved + " " : "") + "New order saved.");
      }).catch(function (err) {
        list.classList.remove("saving");
        say("The new order was not saved: " + err.message + ". Reloading.");
        window.alert("The new order was not saved: " + err.message);
        window.location.reload();
      });
    }

    function moveTo(li, index) {
      var all = rows();
      index = Math.max(0, Math.min(all.length - 1, index));
      var from = all.indexOf(li);
      if (index === from) return false;
      all.splice(from, 1);
      var before = all[index];
      list.insertBefore(li, before || null);
      return true;
    }

    function placeNear(li, target, y) {
      if (!target || target === li) return;
      var box = target.getBoundingClientRect();
      var ref = y > box.top + box.height / 2 ? target.nextElementSibling : target;
      if (ref !== li) list.insertBefore(li, ref);  // ref null: the end of the list
    }

    rows().forEach(function (li) {
      var handle = li.querySelector(".handle");
      if (handle) handle.hidden = false;
      li.draggable = true;

      // Mouse: HTML5 drag and drop of the whole row.
      li.addEventListener("dragstart", function (ev) {
        dragging = li;
        li.classList.add("dragging");
        ev.dataTransfer.effectAllowed = "move";
        ev.dataTransfer.setData("text/plain", li.dataset.id);
      });
      li.addEventListener("dragend", function () {
        li.classList.remove("dragging");
        dragging = null;
        save();
      });

      if (!handle) return;
      // Touch and pen: drag the handle; the row follows the finger. (No native gesture on
      // the handle: no scrolling, no long-press drag of the row.)
      handle.addEventListener("touchstart", function (ev) { ev.preventDefault(); }, { passive: false });
      handle.addEventListener("pointerdown", function (ev) {
        if (ev.pointerType === "mouse") return;  // the mouse drags the row (above)
        ev.preventDefault();
        handle.setPointerCapture(ev.pointerId);
        li.classList.add("dragging");
        var follow = function (move) {
          var under = document.elementFromPoint(move.clientX, move.clientY);
          var target = under && under.closest(".sortable > li");
          if (target && target.parentNode === list) placeNear(li, target, move.clientY);
        };
        // On the document: moving the row in the page releases the handle's capture.
        var stop = function () {
          document.removeEventListener("pointermove", follow);
          document.removeEventListener("pointerup", stop);
          document.removeEventListener("pointercancel", stop);
          li.classList.remove("dragging");
          save();
        };
        document.addEventListener("pointermove", follow);
        document.addEventListener("pointerup", stop);
        document.addEventListener("pointercancel", stop);
      });
      // Keyboard: arrows on the focused handle.
      handle.addEventListener("keydown", function (ev) {
        var index = rows().indexOf(li);
        var to = { ArrowUp: index - 1, ArrowDown: index + 1, Home: 0, End: rows().length - 1 }[ev.key];
        if (to === undefined) return;
        ev.preventDefault();
        if (moveTo(li, to)) {
          handle.focus();
          save(label + " moved to position " + (rows().indexOf(li) + 1) + ".");
        }
      });
      // The Up and Down buttons, without a page load.
      li.querySelectorAll("form.move-form").forEach(function (form) {
        form.addEventListener("submit", function (ev) {
          ev.preventDefault();
          var button = form.querySelector("button[data-step]");
          var index = rows().indexOf(li);
          if (moveTo(li, button.dataset.step === "up" ? index - 1 : index + 1)) {
            save(label + " moved to position " + (rows().indexOf(li) + 1) + ".");
            var again = li.querySelector("button[data-step=" + button.dataset.step + "]");
            (again && !again.disabled ? again : handle).focus();
          }
        });
      });
    });

    list.addEventListener("dragover", function (ev) {
      if (!dragging) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = "move";
      var target = ev.target.closest && ev.target.closest(".sortable > li");
      if (target && target.parentNode === list) placeNear(dragging, target, ev.clientY);
    });
    list.addEventListener("drop", function (ev) { if (dragging) ev.preventDefault(); });
    list.dataset.saved = saved;
    list.classList.add("sortable-ready");
  }

  document.querySelectorAll("ol.sortable[data-order-url]").forEach(setUp);
})();
