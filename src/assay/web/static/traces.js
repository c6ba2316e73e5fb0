// The trace page's "promote" action: POST /api/traces/{id}/promote with a JSON body.
// Everything shown comes back as text (textContent), never as HTML.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("promote-form");
  if (!form) return;
  const out = document.getElementById("promote-result");
  const button = form.querySelector("button");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    out.className = "small";
    out.textContent = "promoting…";
    const payload = {
      dataset: form.elements.dataset.value.trim(),
      origin: form.elements.origin.value,
    };
    const reason = form.elements.reason.value.trim();
    if (reason) payload.reason = reason;
    try {
      const response = await fetch(
        // getAttribute, not form.dataset: the form's "dataset" field shadows that property.
        `/api/traces/${encodeURIComponent(form.getAttribute("data-trace"))}/promote`,
        {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify(payload),
          credentials: "same-origin",
        },
      );
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        const id = (body.case && body.case.id) || "";
        out.className = "small v-improved";
        out.textContent = body.appended
          ? `promoted: case ${id} appended to ${body.dataset}`
          : `already promoted: case ${id} is in ${body.dataset}`;
        out.dataset.case = id;
      } else {
        out.className = "small v-regressed";
        out.textContent =
          `${response.status}: ${body.error || response.statusText}` +
          (body.fix ? ` (fix: ${body.fix})` : "");
      }
    } catch (error) {
      out.className = "small v-regressed";
      out.textContent = `could not reach the server: ${error}`;
    } finally {
      button.disabled = false;
    }
  });
});
