// Small behaviours shared by every page. Pages work without them where they can.
(function () {
  "use strict";

  function currentTheme() {
    var explicit = document.documentElement.getAttribute("data-theme");
    if (explicit) return explicit;
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-theme-toggle]");
    if (toggle) {
      var next = currentTheme() === "dark" ? "light" : "dark";
      document.documentElement.setAttribute("data-theme", next);
      try { localStorage.setItem("oasst-theme", next); } catch (e) { /* private mode */ }
      return;
    }
    var close = event.target.closest("[data-toast-close]");
    if (close) {
      close.closest("[data-toast]").remove();
      return;
    }
    var navToggle = event.target.closest(".nav-toggle");
    if (navToggle) {
      var open = navToggle.getAttribute("aria-expanded") === "true";
      navToggle.setAttribute("aria-expanded", String(!open));
      document.getElementById(navToggle.getAttribute("aria-controls")).classList.toggle("open", !open);
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-autosubmit]")) event.target.form.submit();
  });

  // Toasts fade out after a while unless they report an error.
  function expireToasts(root) {
    (root || document).querySelectorAll("[data-toast]:not(.toast-error)").forEach(function (toast) {
      if (toast.dataset.expiring) return;
      toast.dataset.expiring = "1";
      setTimeout(function () { toast.remove(); }, 8000);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { expireToasts(); });
  document.addEventListener("htmx:afterSettle", function () { expireToasts(); });
  document.addEventListener("htmx:wsAfterMessage", function () { expireToasts(); });

  // A failed htmx request says so instead of failing silently.
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    if (event.detail.target && event.detail.target.closest("[data-handles-errors]")) return;
    var box = document.getElementById("toasts");
    if (!box) return;
    var div = document.createElement("div");
    div.className = "toast toast-error";
    div.setAttribute("data-toast", "");
    div.setAttribute("role", "alert");
    div.textContent = status === 403 ? "You are not allowed to do that." :
      status === 429 ? "Too many requests; wait a moment and try again." :
      "Something went wrong (" + status + "). Nothing you typed was lost; try again.";
    box.appendChild(div);
  });
  document.addEventListener("htmx:sendError", function () {
    var box = document.getElementById("toasts");
    if (!box) return;
    var div = document.createElement("div");
    div.className = "toast toast-error";
    div.setAttribute("data-toast", "");
    div.setAttribute("role", "alert");
    div.textContent = "The server cannot be reached. Nothing you typed was lost; try again when you are back online.";
    box.appendChild(div);
  });
})();
