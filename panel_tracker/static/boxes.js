// Draw a box on a photo to show where a marking is. Without JavaScript the numeric
// fields still work; with it, the expert drags on the photo and the fields fill in.
// Coordinates are fractions (0-1) of the upright photo, so the box fits any size.
(function () {
  "use strict";
  document.querySelectorAll("form.link-photo").forEach(function (form) {
    var editor = form.querySelector(".box-editor");
    var img = editor.querySelector("img");
    var draft = editor.querySelector(".box.draft");
    var select = form.querySelector(".photo-choice");
    var fields = ["box_x", "box_y", "box_w", "box_h"].map(function (n) { return form.elements[n]; });
    editor.hidden = false;
    function load() { img.src = select.options[select.selectedIndex].dataset.src; draft.setAttribute("width", 0); }
    select.addEventListener("change", load);
    load();
    var start = null;
    function point(ev) {
      var r = img.getBoundingClientRect();
      return { x: Math.min(Math.max((ev.clientX - r.left) / r.width, 0), 1),
               y: Math.min(Math.max((ev.clientY - r.top) / r.height, 0), 1) };
    }
    function show(a, b) {
      var x = Math.min(a.x, b.x), y = Math.min(a.y, b.y), w = Math.abs(a.x - b.x), h = Math.abs(a.y - b.y);
      draft.setAttribute("x", x); draft.setAttribute("y", y);
      draft.setAttribute("width", w); draft.setAttribute("height", h);
      [x, y, w, h].forEach(function (v, i) { fields[i].value = v.toFixed(4); });
    }
    img.addEventListener("pointerdown", function (ev) { ev.preventDefault(); start = point(ev); img.setPointerCapture(ev.pointerId); });
    img.addEventListener("pointermove", function (ev) { if (start) show(start, point(ev)); });
    img.addEventListener("pointerup", function (ev) { if (start) { show(start, point(ev)); start = null; } });
    img.addEventListener("pointercancel", function () { start = null; });
    img.draggable = false;
  });
})();
