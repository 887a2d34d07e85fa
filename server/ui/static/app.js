// rotor's web UI needs little script: every page works without it. This adds conveniences only.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Confirm destructive forms (data-confirm holds the question).
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (e) => {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
  }

  // Copy a value (the new API token) to the clipboard.
  for (const btn of document.querySelectorAll("button[data-copy]")) {
    btn.addEventListener("click", async () => {
      const el = document.getElementById(btn.dataset.copy);
      try {
        await navigator.clipboard.writeText(el.textContent.trim());
        btn.textContent = "Copied";
      } catch {
        const range = document.createRange();
        range.selectNodeContents(el);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        btn.textContent = "Selected: press Ctrl+C";
      }
    });
  }

  // Steps editor: with "the policy's steps" chosen, show the policy's steps read-only.
  const steps = document.querySelector("textarea[data-steps]");
  if (steps) {
    const policy = document.querySelector("[data-steps-source]");
    const modes = document.querySelectorAll("input[data-steps-mode]");
    const policySteps = (name) => {
      const t = document.querySelector(`template[data-policy-steps="${CSS.escape(name)}"]`);
      return t ? t.innerHTML.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&") : "";
    };
    let custom = steps.value;
    const sync = () => {
      const own = document.querySelector("input[data-steps-mode]:checked")?.value === "custom";
      if (own) {
        steps.readOnly = false;
        steps.removeAttribute("aria-readonly");
        if (custom !== null) steps.value = custom;
      } else {
        custom = steps.readOnly ? custom : steps.value;
        steps.readOnly = true;
        steps.setAttribute("aria-readonly", "true");
        steps.value = policySteps(policy.value);
      }
    };
    modes.forEach((m) => m.addEventListener("change", sync));
    policy?.addEventListener("change", sync);
    sync();
  }

  // Move focus to the list of form errors, so that keyboard and screen reader users hear it.
  document.getElementById("form-errors")?.focus();

  // Pages of something in progress (a running rotation) reload themselves, unless the user is
  // busy with a form.
  const live = document.querySelector("main[data-live]");
  if (live) {
    setTimeout(() => {
      if (!document.activeElement || !document.activeElement.closest("form")) window.location.reload();
    }, Number(live.dataset.live) || 4000);
  }
});
