// The volunteer pages: drafts that are never lost, the review step, keyboard
// submit, ranking by drag and by keyboard, skip confirmation. Pages work
// without it where they can (plain form posts); with it, nothing typed is lost.
(function () {
  "use strict";

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; } catch (e) { return ""; }
  }
  function draftKey(form) { return "oasst-draft:" + form.dataset.user + ":" + form.dataset.taskType; }
  function readLocal(key) {
    try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }
  function writeLocal(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); return true; } catch (e) { return false; }
  }
  function removeLocal(key) { try { localStorage.removeItem(key); } catch (e) { /* private mode */ } }

  // --- Writing: word meter, drafts, review step ---------------------------------------
  function countWords(text) { var t = text.trim(); return t ? t.split(/\s+/).length : 0; }

  function updateMeter(form, area) {
    var meter = form.querySelector("[data-word-meter]");
    var label = form.querySelector("[data-word-count]");
    if (!meter || !label) return;
    var n = countWords(area.value);
    meter.value = Math.min(n, Number(meter.max));
    label.textContent = n === 1 ? label.dataset.one : label.dataset.many.replace("%(n)s", n);
  }

  function setStatus(form, text) {
    var status = form.querySelector("[data-draft-status]");
    if (status) status.textContent = text;
  }

  function saveToServer(form, area) {
    var editor = form.querySelector("[data-editor]");
    var body = new FormData();
    body.append("text", area.value);
    fetch(editor.dataset.draftUrl, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" }
    }).then(function (response) {
      if (response.status === 401) { setStatus(form, form.querySelector("[data-draft-status]").dataset.signedOut); return; }
      return response.text().then(function (text) { setStatus(form, text.trim()); });
    }).catch(function () {
      setStatus(form, form.querySelector("[data-draft-status]").dataset.offline);
    });
  }

  function initEditor(form) {
    var area = form.querySelector("[data-draft-text-area]");
    if (!area || form.dataset.ready) return;
    form.dataset.ready = "1";
    form.classList.add("js");
    var key = draftKey(form);
    var status = form.querySelector("[data-draft-status]");
    // The browser's copy wins when it is newer than what the server restored.
    var local = readLocal(key);
    if (local && local.text && local.text !== area.value) {
      if (local.taskId === form.dataset.taskId || !area.value.trim()) {
        if (local.taskId === form.dataset.taskId) {
          area.value = local.text;
          status.textContent = status.dataset.restoredLocal;
        } else if (!form.querySelector("[data-earlier-draft]")) {
          offerEarlierDraft(form, local.text);
        }
      }
    }
    updateMeter(form, area);
    var timer = null;
    area.addEventListener("input", function () {
      updateMeter(form, area);
      writeLocal(key, { taskId: form.dataset.taskId, text: area.value, at: Date.now() });
      status.textContent = status.dataset.local;
      clearTimeout(timer);
      timer = setTimeout(function () { saveToServer(form, area); }, 800);
    });
  }

  function offerEarlierDraft(form, text) {
    var editor = form.querySelector("[data-editor]");
    var box = document.createElement("div");
    box.className = "notice";
    box.setAttribute("data-earlier-draft", "");
    var p = document.createElement("p");
    var labels = form.querySelector("[data-draft-status]").dataset;
    p.textContent = labels.earlierLocal;
    var quote = document.createElement("blockquote");
    quote.className = "draft-excerpt";
    quote.textContent = text.length > 200 ? text.slice(0, 200) + "…" : text;
    var use = document.createElement("button");
    use.type = "button"; use.className = "primary"; use.setAttribute("data-use-draft", "");
    use.textContent = labels.use;
    var tpl = document.createElement("template");
    tpl.setAttribute("data-draft-text", "");
    tpl.innerHTML = "";
    tpl.content.appendChild(document.createTextNode(text));
    box.append(p, quote, tpl, use);
    editor.insertBefore(box, editor.firstChild);
  }

  function useEarlierDraft(button) {
    var form = button.closest("form");
    var box = button.closest("[data-earlier-draft]");
    var area = form.querySelector("[data-draft-text-area]");
    var tpl = box.querySelector("template[data-draft-text]");
    area.value = tpl.content.textContent;
    area.dispatchEvent(new Event("input"));
    box.remove();
    area.focus();
  }

  function setStep(form, step) {
    form.dataset.step = step;
    var pane = form.querySelector("#preview-pane");
    if (pane) pane.hidden = step === "edit";
    form.querySelectorAll("[role=tab]").forEach(function (tab) {
      tab.setAttribute("aria-selected", String((tab.dataset.tab === "preview") === (step !== "edit")));
    });
    if (step === "review") {
      var submit = form.querySelector("[data-submit]");
      if (submit) submit.focus();
    } else if (step === "edit") {
      var area = form.querySelector("textarea");
      if (area) area.focus();
    }
  }

  // --- Ranking -------------------------------------------------------------------
  function renumber(list) {
    list.querySelectorAll("[data-rank-item]").forEach(function (item, i) {
      item.querySelector(".rank-number").textContent = String(i + 1);
    });
    list.closest("form").dataset.changed = "1";
  }
  function announce(list, item) {
    var live = list.parentNode.querySelector("[data-rank-announce]");
    if (!live) return;
    var items = Array.prototype.slice.call(list.querySelectorAll("[data-rank-item]"));
    live.textContent = live.dataset.template.replace("%(n)s", items.indexOf(item) + 1).replace("%(total)s", items.length);
  }
  function move(item, direction) {
    var list = item.parentNode;
    if (direction < 0 && item.previousElementSibling) list.insertBefore(item, item.previousElementSibling);
    else if (direction > 0 && item.nextElementSibling) list.insertBefore(item.nextElementSibling, item);
    else return;
    renumber(list);
    announce(list, item);
  }
  var dragged = null;
  document.addEventListener("dragstart", function (event) {
    var item = event.target.closest && event.target.closest("[data-rank-item]");
    if (!item) return;
    dragged = item;
    item.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    try { event.dataTransfer.setData("text/plain", "rank"); } catch (e) { /* old browsers */ }
  });
  document.addEventListener("dragover", function (event) {
    if (!dragged) return;
    var over = event.target.closest && event.target.closest("[data-rank-item]");
    if (!over || over === dragged || over.parentNode !== dragged.parentNode) return;
    event.preventDefault();
    var box = over.getBoundingClientRect();
    var after = event.clientY > box.top + box.height / 2;
    over.parentNode.insertBefore(dragged, after ? over.nextElementSibling : over);
  });
  document.addEventListener("drop", function (event) { if (dragged) event.preventDefault(); });
  document.addEventListener("dragend", function () {
    if (!dragged) return;
    dragged.classList.remove("dragging");
    renumber(dragged.parentNode);
    announce(dragged.parentNode, dragged);
    dragged = null;
  });

  // --- Events ----------------------------------------------------------------------
  document.addEventListener("click", function (event) {
    var target = event.target;
    var moveButton = target.closest("[data-move]");
    if (moveButton) {
      var item = moveButton.closest("[data-rank-item]");
      move(item, moveButton.dataset.move === "up" ? -1 : 1);
      moveButton.focus();
      return;
    }
    if (target.closest("[data-use-draft]")) { useEarlierDraft(target.closest("[data-use-draft]")); return; }
    var tab = target.closest("[data-tab]");
    if (tab) { setStep(tab.closest("form"), tab.dataset.tab === "preview" ? "preview" : "edit"); return; }
    if (target.closest("[data-review]")) { setStep(target.closest("form"), "review"); return; }
    if (target.closest("[data-edit]")) { setStep(target.closest("form"), "edit"); }
  });

  document.addEventListener("keydown", function (event) {
    var item = event.target.closest && event.target.closest("[data-rank-item]");
    if (item && event.target === item && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      event.preventDefault();
      move(item, event.key === "ArrowUp" ? -1 : 1);
      item.focus();
      return;
    }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      var form = event.target.closest && event.target.closest("form[data-task-form]");
      form = form || document.querySelector("form[data-task-form]");
      if (!form) return;
      event.preventDefault();
      var review = form.querySelector("[data-review]");
      if (review && form.dataset.step === "edit") review.click();
      else form.requestSubmit(form.querySelector("[data-submit]"));
    }
  });

  function typedText() {
    var area = document.querySelector("form[data-task-form] [data-draft-text-area]");
    return area ? area.value.trim() : "";
  }
  // Skip asks only when something was typed (OA #3325 without OA's annoying modal).
  document.addEventListener("htmx:confirm", function (event) {
    var form = event.target.closest && event.target.closest("[data-skip-form]");
    if (!form || !typedText()) return;
    event.preventDefault();
    if (window.confirm(form.dataset.confirmText)) event.detail.issueRequest(true);
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches("[data-skip-form]") && !window.htmx && typedText() && !window.confirm(form.dataset.confirmText)) {
      event.preventDefault();
    }
  });

  function init(root) {
    var card = root.querySelector ? (root.matches && root.matches("[data-clear-draft]") ? root : root.querySelector("[data-clear-draft]")) : null;
    if (card) {
      removeLocal("oasst-draft:" + card.dataset.user + ":" + card.dataset.clearDraft);
    }
    (root.querySelectorAll ? root.querySelectorAll("form[data-task-form]") : []).forEach(function (form) {
      if (form.dataset.family === "write") initEditor(form);
    });
    if (root.matches && root.matches("form[data-task-form]") && root.dataset.family === "write") initEditor(root);
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); });
  // A preview request answered: show the pane.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "preview-pane") event.detail.target.hidden = false;
  });
})();
