// The labelling page of a review queue (/review/{queue}): one item at a time, labelled from the
// keyboard. p / f pass or fail, digits a score, n the note, Enter submits, j / k or the arrow
// keys move. The reviewer's name and role are asked once and kept in localStorage.
(function () {
  "use strict";
  var root = document.getElementById("review");
  if (!root) return;
  var KEY = "assay.reviewer";
  var queue = root.dataset.queue;
  var rater = root.dataset.rater;
  var role = root.dataset.role;
  var scale = root.dataset.scale;
  var points = root.dataset.points.split(",");
  var form = document.getElementById("reviewer-form");
  var params = new URLSearchParams(window.location.search);

  var saved = null;
  try { saved = JSON.parse(window.localStorage.getItem(KEY) || "null"); } catch (e) { saved = null; }
  if (!params.get("as") && saved && saved.name) {
    params.set("as", saved.name);
    params.set("role", saved.role || "labeler");
    window.location.replace(window.location.pathname + "?" + params.toString());
    return;
  }
  form.addEventListener("submit", function () {
    var name = form.elements["as"].value.trim();
    if (name) {
      window.localStorage.setItem(KEY, JSON.stringify({ name: name, role: form.elements.role.value }));
    }
  });
  if (!rater) return;
  window.localStorage.setItem(KEY, JSON.stringify({ name: rater, role: role }));

  var items = Array.prototype.slice.call(document.querySelectorAll(".review-item"));
  if (!items.length) return;
  var note = document.getElementById("note");
  var correction = document.getElementById("correction");
  var errorBox = document.getElementById("error");
  var position = document.getElementById("position");
  var buttons = Array.prototype.slice.call(document.querySelectorAll("button.choice"));
  var index = 0;
  var choice = null;
  var busy = false;

  function template(item, name) {
    var t = item.querySelector("template." + name);
    return t ? t.content.textContent : "";
  }

  function choose(value) {
    choice = value;
    buttons.forEach(function (b) { b.classList.toggle("selected", b.dataset.choice === value); });
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
  }

  function show(i) {
    index = Math.max(0, Math.min(items.length - 1, i));
    items.forEach(function (item, k) { item.hidden = k !== index; });
    var item = items[index];
    var earlier = item.dataset.verdict || item.dataset.score || null;
    choose(earlier);
    note.value = template(item, "mine-note");
    correction.value = template(item, "mine-correction");
    position.textContent = "item " + (index + 1) + " of " + items.length +
      (item.classList.contains("done") ? " (labelled by you)" : "");
    showError("");
  }

  function fmt(x) { return x === null || x === undefined ? "—" : x.toFixed(3); }

  function agreementText(a) {
    if (!a) return "— (needs items with two or more labels)";
    var names = { cohen_kappa: "Cohen's κ", fleiss_kappa: "Fleiss' κ", krippendorff_alpha: "Krippendorff's α" };
    var text = names[a.method] + (a.weights ? " (" + a.weights + ")" : "") + " " + fmt(a.value);
    if (a.low !== null && a.low !== undefined) text += " [" + fmt(a.low) + ", " + fmt(a.high) + "]";
    return text + " over " + a.n_items + " items, " + a.n_raters + " reviewers";
  }

  function showProgress(s) {
    var p = document.getElementById("progress");
    p.dataset.complete = s.complete;
    p.dataset.labels = s.labels;
    var bar = p.querySelector(".bar > span");
    if (bar) bar.style.width = ((s.progress || 0) * 100).toFixed(1) + "%";
    var text = s.complete + "/" + s.items + " items complete · " + s.labels + "/" + s.labels_wanted + " labels";
    p.querySelector(".progress-text").textContent = text;
    document.getElementById("agreement").textContent = agreementText(s.agreement);
  }

  function nextOpen() {
    for (var k = 1; k <= items.length; k++) {
      var j = (index + k) % items.length;
      if (!items[j].classList.contains("done")) return j;
    }
    return Math.min(index + 1, items.length - 1);
  }

  function submit() {
    if (busy) return;
    if (choice === null) {
      showError(scale === "pass_fail" ? "choose pass (p) or fail (f) first" : "choose a score first");
      return;
    }
    var item = items[index];
    var body = { rater: rater, role: role, note: note.value || null, correction: correction.value || null };
    if (scale === "pass_fail") body.verdict = choice; else body.score = Number(choice);
    busy = true;
    var url = "/api/review/" + encodeURIComponent(queue) + "/items/" + encodeURIComponent(item.dataset.item) + "/labels";
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (result) {
      busy = false;
      if (!result.ok) {
        showError((result.data.error || "the label was not stored") + (result.data.fix ? " (fix: " + result.data.fix + ")" : ""));
        return;
      }
      item.classList.add("done");
      if (scale === "pass_fail") { item.dataset.verdict = choice; } else { item.dataset.score = choice; }
      item.querySelector("template.mine-note").content.textContent = note.value;
      item.querySelector("template.mine-correction").content.textContent = correction.value;
      item.querySelector(".mine-badge").textContent = "labelled by you";
      showProgress(result.data.progress);
      if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
      show(nextOpen());
    }).catch(function (err) {
      busy = false;
      showError("the label was not stored: " + err);
    });
  }

  buttons.forEach(function (b) { b.addEventListener("click", function () { choose(b.dataset.choice); }); });
  document.getElementById("submit").addEventListener("click", submit);
  // The form is sent by submit() (JSON to /api/review); never as a page load.
  document.getElementById("label-form").addEventListener("submit", function (event) { event.preventDefault(); });
  document.getElementById("next").addEventListener("click", function () { show(index + 1); });
  document.getElementById("prev").addEventListener("click", function () { show(index - 1); });

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.metaKey || (event.ctrlKey && event.key !== "Enter")) return;
    var target = event.target;
    var inField = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT");
    if (inField) {
      if (event.key === "Escape") { target.blur(); event.preventDefault(); return; }
      var labelField = target === note || target === correction;
      if (labelField && event.key === "Enter" && (target === note || event.ctrlKey)) {
        event.preventDefault();
        submit();
      }
      return;
    }
    var key = event.key;
    if (scale === "pass_fail" && (key === "p" || key === "f")) {
      choose(key === "p" ? "pass" : "fail");
    } else if (scale === "score" && /^[0-9]$/.test(key) && points.indexOf(key) >= 0) {
      choose(key);
    } else if (key === "n") {
      note.focus();
    } else if (key === "j" || key === "ArrowRight") {
      show(index + 1);
    } else if (key === "k" || key === "ArrowLeft") {
      show(index - 1);
    } else if (key === "Enter") {
      if (target && target.tagName === "BUTTON" && target.id !== "submit" && !target.classList.contains("choice")) return;
      submit();
    } else {
      return;
    }
    event.preventDefault();
  });

  show(0);
})();
