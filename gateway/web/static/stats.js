// Draws the grade statistics table as a bar chart with Chart.js (installed from the npm
// registry into static/vendor/ by the install step). Without the library the table stays.
(function () {
  "use strict";
  var table = document.getElementById("grade-stats");
  var canvas = document.getElementById("grade-chart");
  if (!table || !canvas || typeof window.Chart === "undefined") {
    if (canvas) { canvas.closest("figure").hidden = true; }
    return;
  }
  var labels = [], means = [];
  table.querySelectorAll("tbody tr").forEach(function (tr) {
    var cell = tr.querySelector("td[data-value]");
    if (!cell) { return; }
    labels.push(tr.querySelector("th").textContent);
    means.push(parseFloat(cell.dataset.value));
  });
  if (!labels.length) { canvas.closest("figure").hidden = true; return; }
  new window.Chart(canvas, {
    type: "bar",
    data: { labels: labels, datasets: [{ label: table.dataset.labelMean, data: means, backgroundColor: "#0b4f8a" }] },
    options: { animation: false, scales: { y: { min: 0, max: 10 } } }
  });
})();
