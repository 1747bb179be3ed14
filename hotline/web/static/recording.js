// One recording's page: draw each channel's activity (agent on top, customer below) from
// /recordings/<id>/peaks, follow the player with a line, and seek where the bars are clicked.
(function () {
  "use strict";
  const box = document.querySelector(".activity[data-peaks-url]");
  const player = document.querySelector("audio[data-testid=player]");
  if (!box || !player) { return; }
  const canvas = box.querySelector("canvas");
  const ctx = canvas.getContext("2d");
  const colours = ["#0b5cab", "#067647"];
  let peaks = null;

  function draw() {
    const w = canvas.width, h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    if (!peaks) { return; }
    const rows = peaks.channels.length;
    const rowH = h / rows;
    // scaled to the loudest moment of the call: a quiet line still shows who spoke when
    const loudest = Math.max(0.01, ...peaks.channels.map(function (v) { return Math.max(0, ...v); }));
    peaks.channels.forEach(function (values, row) {
      const mid = rowH * row + rowH / 2;
      const step = w / Math.max(1, values.length);
      ctx.fillStyle = colours[row % colours.length];
      values.forEach(function (v, i) {
        const bar = Math.max(1, (v / loudest) * (rowH - 4));
        ctx.fillRect(i * step, mid - bar / 2, Math.max(1, step - 0.5), bar);
      });
    });
    const duration = player.duration;
    if (isFinite(duration) && duration > 0) {
      const x = (player.currentTime / duration) * w;
      ctx.fillStyle = "#b42318";
      ctx.fillRect(x, 0, 2, h);
    }
  }

  fetch(box.dataset.peaksUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (data) { peaks = data; box.dataset.loaded = data ? "yes" : "no"; draw(); })
    .catch(function () { box.dataset.loaded = "no"; });

  player.addEventListener("timeupdate", draw);
  player.addEventListener("loadedmetadata", draw);
  canvas.addEventListener("click", function (e) {
    const rect = canvas.getBoundingClientRect();
    if (isFinite(player.duration) && player.duration > 0) {
      player.currentTime = ((e.clientX - rect.left) / rect.width) * player.duration;
    }
  });
})();
