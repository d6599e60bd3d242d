// Drag-and-drop onto the upload form. The plain file input still works without it.
(function () {
  "use strict";
  var zone = document.getElementById("dropzone");
  if (!zone) return;
  var input = zone.querySelector("input[type=file]");
  var inputs = zone.querySelectorAll("input[type=file]");  // the file picker, then the camera
  var list = document.getElementById("chosen");
  document.getElementById("drop-hint").hidden = false;
  function showChosen() {
    list.textContent = "";
    Array.prototype.forEach.call(inputs, function (each) {
      Array.prototype.forEach.call(each.files, function (f) {
        var li = document.createElement("li");
        li.textContent = f.name + " (" + Math.round(f.size / 1024) + " KB)";
        list.appendChild(li);
      });
    });
  }
  Array.prototype.forEach.call(inputs, function (each) { each.addEventListener("change", showChosen); });
  ["dragenter", "dragover"].forEach(function (t) {
    zone.addEventListener(t, function (ev) { ev.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (t) {
    zone.addEventListener(t, function (ev) { ev.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (ev) {
    if (ev.dataTransfer && ev.dataTransfer.files.length) { input.files = ev.dataTransfer.files; showChosen(); }
  });
})();
