// The chat page: clear the composer once sent, send with Ctrl+Enter, keep the
// newest text in view while an answer streams.
(function () {
  "use strict";
  function thread() { return document.getElementById("thread"); }
  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 120;
  }
  document.addEventListener("htmx:wsAfterSend", function (event) {
    var form = event.detail.elt && event.detail.elt.closest ? event.detail.elt.closest("form") : null;
    if (form && form.id === "composer-form") {
      form.querySelector("textarea").value = "";
    }
  });
  var follow = true;
  document.addEventListener("htmx:wsBeforeMessage", function () { follow = nearBottom(); });
  document.addEventListener("htmx:wsAfterMessage", function () {
    if (follow && thread()) window.scrollTo(0, document.body.scrollHeight);
  });
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter" && event.target.matches("#composer-text")) {
      event.preventDefault();
      event.target.form.requestSubmit();
    }
  });
})();
