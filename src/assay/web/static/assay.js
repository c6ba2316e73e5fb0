/* assay: small progressive enhancements for the server-rendered pages. Vendored, no build step,
   no dependencies. Every page works without this file: links, forms and server-side sorting do
   the real work; this adds keys, client-side sorting of complete tables and diff toggles.

   Keys (never while typing in a field, never with Ctrl/Alt/Meta):
     j / ArrowDown, k / ArrowUp   move the highlight over [data-nav-row] rows
     Enter / o                    open the highlighted row's data-href (or its first link)
     [ / h, ] / l                 follow a[rel=prev] / a[rel=next] (previous/next sample, page)
   table[data-sortable]: click (or Enter on) a header to sort its rows; again to reverse.
   [data-diff-toggle]: switches its section between [data-diff-view=diff] and =plain.
   GET forms drop their empty fields from the URL. */
(function () {
  "use strict";

  var FIELDS = /^(INPUT|TEXTAREA|SELECT)$/;
  var ACTIVE = /^(A|BUTTON|SUMMARY)$/;

  function all(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }

  function typing(target) {
    return !!target && (FIELDS.test(target.tagName) || target.isContentEditable);
  }

  /* -- rows: j/k, arrows, Enter ------------------------------------------------------------ */

  function rows() {
    return all("[data-nav-row]").filter(function (r) { return r.getClientRects().length > 0; });
  }

  function highlight(row) {
    all("[data-nav-row].nav-current").forEach(function (r) {
      r.classList.remove("nav-current");
      r.removeAttribute("aria-current");
    });
    row.classList.add("nav-current");
    row.setAttribute("aria-current", "true");
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var list = rows();
    if (!list.length) return false;
    var i = list.indexOf(document.querySelector("[data-nav-row].nav-current"));
    if (i < 0) i = step > 0 ? 0 : list.length - 1;
    else i = Math.min(list.length - 1, Math.max(0, i + step));
    highlight(list[i]);
    return true;
  }

  function openCurrent() {
    var row = document.querySelector("[data-nav-row].nav-current");
    if (!row) return false;
    var link = row.querySelector("a[href]");
    var href = row.getAttribute("data-href") || (link && link.getAttribute("href"));
    if (!href) return false;
    window.location.assign(href);
    return true;
  }

  function follow(rel) {
    var link = document.querySelector('a[rel="' + rel + '"]');
    if (!link) return false;
    window.location.assign(link.getAttribute("href"));
    return true;
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    var done = false;
    switch (e.key) {
      case "j": case "ArrowDown": done = move(1); break;
      case "k": case "ArrowUp": done = move(-1); break;
      case "Enter": case "o":
        done = !(e.key === "Enter" && ACTIVE.test(e.target.tagName)) && openCurrent();
        break;
      case "[": case "h": done = follow("prev"); break;
      case "]": case "l": done = follow("next"); break;
    }
    if (done) e.preventDefault();
  });

  document.addEventListener("click", function (e) {
    var row = e.target.closest && e.target.closest("[data-nav-row]");
    if (row && !e.target.closest("a, button, input, select, textarea")) highlight(row);
  });

  /* -- GET forms leave their empty fields out of the URL (the server ignores them anyway) ---- */

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if ((form.getAttribute("method") || "get").toLowerCase() !== "get") return;
    all("input[name], select[name]", form).forEach(function (field) {
      if (field.value === "" && !field.disabled) {
        field.disabled = true;
        field.setAttribute("data-emptied", "");
      }
    });
  });

  window.addEventListener("pageshow", function () {  // coming back: the fields work again
    all("[data-emptied]").forEach(function (field) {
      field.disabled = false;
      field.removeAttribute("data-emptied");
    });
  });

  /* -- client-side sorting of complete tables ------------------------------------------------ */

  function cellValue(row, index) {
    var cell = row.cells[index];
    if (!cell) return "";
    var text = cell.getAttribute("data-sort-value");
    return text === null ? cell.textContent.trim() : text;
  }

  function asNumber(text) {
    var cleaned = text.replace(/[$,%\s]|ms$/g, "").replace("\u2212", "-");
    return cleaned !== "" && isFinite(cleaned) ? parseFloat(cleaned) : null;
  }

  function sortBy(table, th) {
    var body = table.tBodies[0];
    if (!body) return;
    var index = th.cellIndex;
    var descending = th.getAttribute("aria-sort") === "ascending";
    var fixed = all("tr.aggregate, tr[data-sort-fixed]", body);
    var moving = all("tr", body).filter(function (r) { return fixed.indexOf(r) < 0; });
    var numeric = moving.every(function (r) {
      var v = cellValue(r, index);
      return v === "" || v === "\u2014" || asNumber(v) !== null;
    });
    moving.sort(function (a, b) {
      var x = cellValue(a, index), y = cellValue(b, index), order;
      if (numeric) {
        var nx = asNumber(x), ny = asNumber(y);
        if (nx === null || ny === null) return (nx === null) - (ny === null);  // blanks last
        order = nx - ny;
      } else {
        order = x.localeCompare(y, undefined, { numeric: true });
      }
      return descending ? -order : order;
    });
    moving.concat(fixed).forEach(function (r) { body.appendChild(r); });
    all("th[aria-sort]", table).forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }

  all("table[data-sortable]").forEach(function (table) {
    if (!table.tHead) return;
    all("th", table.tHead).forEach(function (th) {
      if (th.querySelector("a, button, input, select")) return;  // the server sorts this one
      th.tabIndex = 0;
      th.classList.add("js-sortable");
      th.title = "sort by this column";
      th.addEventListener("click", function () { sortBy(table, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          e.stopPropagation();
          sortBy(table, th);
        }
      });
    });
  });

  /* -- diff toggles --------------------------------------------------------------------------- */

  function showDiff(toggle, on) {
    var scope = toggle.closest("[data-diff-scope], section, .card, main") || document.body;
    all("[data-diff-view]", scope).forEach(function (view) {
      var hide = (view.getAttribute("data-diff-view") === "diff") !== on;
      view.hidden = hide;
      view.style.display = hide ? "none" : "";  // beats a stylesheet's display: grid
    });
    scope.classList.toggle("showing-diff", on);
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    toggle.textContent = on
      ? toggle.getAttribute("data-label-plain") || "show plain outputs"
      : toggle.getAttribute("data-label-diff") || "show word diff";
  }

  all("[data-diff-toggle]").forEach(function (toggle) {
    showDiff(toggle, toggle.getAttribute("aria-pressed") !== "false");
    toggle.addEventListener("click", function () {
      showDiff(toggle, toggle.getAttribute("aria-pressed") !== "true");
    });
  });
})();
