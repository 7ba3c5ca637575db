// The import job page: the progress bar follows the job without reloading the page (the page
// refreshes itself without JavaScript, through <noscript><meta refresh>). Plain JS, no inline
// script (CSP); the words come from the page's data-state-* attributes, in the page's language.
(function () {
  "use strict";
  var box = document.getElementById("import-job");
  if (!box || box.dataset.finished === "yes") { return; }
  var bar = document.getElementById("import-progress");
  var status = document.getElementById("import-status");

  function text(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = String(value); }
  }

  function show(job) {
    var total = job.rows_total || 0;
    bar.max = total || 1;
    bar.value = total ? job.rows_done : (job.status === "done" ? 1 : 0);
    status.dataset.status = job.status;
    status.querySelector(".state").textContent = box.getAttribute("data-state-" + job.status) || job.status;
    text("rows-done", job.rows_done);
    text("rows-total", total);
    text("rows-written", job.rows_written);
    text("rows-errors", job.errors);
    if (job.finished) {
      box.dataset.finished = "yes";
      box.querySelector(".report").hidden = false;
      var again = box.querySelector(".refresh");
      if (again) { again.hidden = true; }
    }
    return job.finished;
  }

  function poll() {
    fetch(box.dataset.progressUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) {
        if (job && show(job)) { return; }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
