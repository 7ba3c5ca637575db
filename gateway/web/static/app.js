// The web application's script: the pages work without it; it only makes grade entry faster.
// No inline script anywhere (the Content-Security-Policy forbids it); no token is readable here
// (the session cookie is HttpOnly): requests carry the page's CSRF token.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var form = document.getElementById("grade-entry");
  if (!form) { return; }

  function field(name) {
    var el = form.querySelector('[name="' + name + '"]');
    return el ? el.value : "";
  }

  function nextBox(input) {
    var row = input.closest("tr");
    var next = row && row.nextElementSibling;
    return next ? next.querySelector(".grade-input") : null;
  }

  // Enter in a pupil's box saves that one grade and moves to the next pupil
  function save(input) {
    var status = input.parentNode.querySelector(".status");
    var value = input.value.trim();
    if (!value) { return; }
    var data = new FormData();
    ["csrf", "class_id", "subject_id", "awarded_on"].forEach(function (n) { data.append(n, field(n)); });
    data.append("student_id", input.dataset.pupil);
    data.append("value", value);
    status.textContent = "…";
    status.classList.remove("error");
    fetch(form.action, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", "X-CSRF-Token": meta ? meta.content : "" }
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (res) {
      if (!res.ok) {
        status.textContent = res.body.message || "!";
        status.classList.add("error");
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      input.removeAttribute("aria-invalid");
      var cell = input.closest("tr").querySelector(".marks");
      var none = cell.querySelector(".none");
      if (none) { none.remove(); }
      var mark = document.createElement("span");
      mark.className = "mark new";
      mark.textContent = String(res.body.value);
      var small = document.createElement("small");
      small.textContent = res.body.date;
      mark.appendChild(small);
      cell.appendChild(mark);
      status.textContent = "✓";
      input.value = "";
      (nextBox(input) || input).focus();
    }).catch(function () {
      status.textContent = "!";
      status.classList.add("error");
    });
  }

  form.addEventListener("keydown", function (event) {
    var input = event.target;
    if (event.key === "Enter" && input.classList && input.classList.contains("grade-input")) {
      event.preventDefault();
      save(input);
    }
  });
})();
