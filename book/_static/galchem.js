// galchem book: click (or Enter) on a figure to see it enlarged; click, Escape or the button closes it.
(function () {
  "use strict";
  function close(overlay, opener) {
    overlay.remove();
    document.removeEventListener("keydown", overlay.galchemKeys);
    if (opener) { opener.focus(); }
  }
  function open(img) {
    var overlay = document.createElement("div");
    overlay.className = "galchem-lightbox";
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-label", "Enlarged figure: " + (img.getAttribute("alt") || ""));
    var big = document.createElement("img");
    big.src = img.currentSrc || img.src;
    big.alt = img.getAttribute("alt") || "";
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = "Close ✕";
    overlay.appendChild(big);
    overlay.appendChild(button);
    overlay.addEventListener("click", function () { close(overlay, img); });
    overlay.galchemKeys = function (event) { if (event.key === "Escape") { close(overlay, img); } };
    document.addEventListener("keydown", overlay.galchemKeys);
    document.body.appendChild(overlay);
    button.focus();
  }
  function init() {
    var images = document.querySelectorAll(".bd-article .cell_output img, .bd-article figure img");
    images.forEach(function (img) {
      img.setAttribute("tabindex", "0");
      img.setAttribute("title", "Click to enlarge");
      img.addEventListener("click", function () { open(img); });
      img.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); open(img); }
      });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
