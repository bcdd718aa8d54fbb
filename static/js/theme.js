// Runs before the page paints, so a dark-theme choice never flashes light.
(function () {
  var saved = null;
  try { saved = localStorage.getItem("oasst-theme"); } catch (e) { /* private mode */ }
  if (saved === "light" || saved === "dark") {
    document.documentElement.setAttribute("data-theme", saved);
  }
})();
