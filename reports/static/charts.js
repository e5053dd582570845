/* Small SVG charts for the dashboard: stacked bars, grouped horizontal bars, lines.
 * No dependencies and no build step. Each function clears `host` and draws into it. */
(function (global) {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#0a5c8a", "#e07b00", "#2e8540", "#b32d2e", "#7b4fa0", "#8c6d1f", "#5a6b7b", "#d45d9c"];
  var W = 640, H = 240, PAD = { l: 44, r: 10, t: 10, b: 42 };

  function svgEl(tag, attrs, parent) {
    var node = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, value, anchor) {
    var t = svgEl("text", { x: x, y: y, "text-anchor": anchor || "middle" }, parent);
    t.textContent = value;
    return t;
  }

  function tooltip(node, value) {
    svgEl("title", {}, node).textContent = value;
  }

  function start(host, height) {
    while (host.firstChild) host.removeChild(host.firstChild);
    return svgEl("svg", { viewBox: "0 0 " + W + " " + (height || H), role: "img" }, host);
  }

  function empty(host) {
    while (host.firstChild) host.removeChild(host.firstChild);
    var p = document.createElement("p");
    p.className = "empty";
    p.textContent = "Belum ada data pada rentang ini.";
    host.appendChild(p);
  }

  /* The axis top: four equal steps of 1, 2, 2.5 or 5 × 10^n (whole steps for counts). */
  function niceMax(value, integer) {
    if (!(value > 0) || (integer && value <= 4)) return 4;
    var raw = value / 4, power = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = power >= 1 ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * power >= raw) return 4 * steps[i] * power;
    return 40 * power;
  }

  function axes(svg, max, labels, step) {
    var plotH = H - PAD.t - PAD.b;
    for (var i = 0; i <= 4; i++) {
      var v = (max * i) / 4, y = PAD.t + plotH - (plotH * i) / 4;
      svgEl("line", { x1: PAD.l, x2: W - PAD.r, y1: y, y2: y, stroke: "#e5e5e5" }, svg);
      text(svg, PAD.l - 4, y + 4, String(Math.round(v * 100) / 100), "end");
    }
    var every = Math.max(1, Math.ceil(labels.length / 10));
    labels.forEach(function (label, i) {
      if (i % every) return;
      text(svg, PAD.l + step * (i + 0.5), H - PAD.b + 14, shortLabel(label));
    });
  }

  function shortLabel(label) {
    // ISO dates "2026-10-05" read better as "05/10".
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(label));
    return m ? m[3] + "/" + m[2] : String(label);
  }

  function legend(host, series) {
    var box = document.createElement("div");
    box.className = "legend";
    series.forEach(function (s, i) {
      var item = document.createElement("span");
      var swatch = document.createElement("i");
      swatch.style.background = s.color || PALETTE[i % PALETTE.length];
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(s.label));
      box.appendChild(item);
    });
    host.appendChild(box);
  }

  /* labels: x categories; series: [{label, values, color?}] stacked on each other. */
  function stackedBars(host, labels, series) {
    if (!labels.length || !series.length) return empty(host);
    var totals = labels.map(function (_, i) {
      return series.reduce(function (sum, s) { return sum + (s.values[i] || 0); }, 0);
    });
    var max = niceMax(Math.max.apply(null, totals), true);
    var svg = start(host);
    var plotW = W - PAD.l - PAD.r, plotH = H - PAD.t - PAD.b, step = plotW / labels.length;
    axes(svg, max, labels, step);
    labels.forEach(function (label, i) {
      var y = PAD.t + plotH;
      series.forEach(function (s, k) {
        var v = s.values[i] || 0;
        if (!v) return;
        var h = (plotH * v) / max;
        y -= h;
        var rect = svgEl("rect", { x: PAD.l + step * i + step * 0.12, y: y, width: Math.max(1, step * 0.76),
          height: h, fill: s.color || PALETTE[k % PALETTE.length] }, svg);
        tooltip(rect, label + " · " + s.label + ": " + v);
      });
    });
    legend(host, series);
  }

  /* series: [{label, values}] drawn as lines; null values leave gaps. */
  function lines(host, labels, series) {
    if (!labels.length) return empty(host);
    var all = [];
    series.forEach(function (s) { s.values.forEach(function (v) { if (v != null) all.push(v); }); });
    if (!all.length) return empty(host);
    var max = niceMax(Math.max.apply(null, all), false);
    var svg = start(host);
    var plotW = W - PAD.l - PAD.r, plotH = H - PAD.t - PAD.b, step = plotW / labels.length;
    axes(svg, max, labels, step);
    series.forEach(function (s, k) {
      var color = s.color || PALETTE[k % PALETTE.length], d = "", pen = "M";
      s.values.forEach(function (v, i) {
        if (v == null) { pen = "M"; return; }
        var x = PAD.l + step * (i + 0.5), y = PAD.t + plotH - (plotH * v) / max;
        d += pen + x.toFixed(1) + " " + y.toFixed(1) + " ";
        pen = "L";
        tooltip(svgEl("circle", { cx: x, cy: y, r: 2.5, fill: color }, svg), labels[i] + " · " + s.label + ": " + v);
      });
      if (d) svgEl("path", { d: d, fill: "none", stroke: color, "stroke-width": 2 }, svg);
    });
    legend(host, series);
  }

  /* rows: [{label, values:[...]}], one horizontal bar per series value, grouped per row. */
  function horizontalBars(host, rows, series) {
    if (!rows.length) return empty(host);
    var rowH = 8 + 12 * series.length, height = PAD.t + rowH * rows.length + 8, left = 150;
    var all = [];
    rows.forEach(function (r) { all = all.concat(r.values); });
    var max = niceMax(Math.max.apply(null, all.concat([1])), true);
    var svg = start(host, height);
    rows.forEach(function (r, i) {
      var y0 = PAD.t + rowH * i;
      text(svg, left - 6, y0 + rowH / 2 + 3, r.label, "end");
      r.values.forEach(function (v, k) {
        var w = ((W - left - 40) * v) / max;
        var rect = svgEl("rect", { x: left, y: y0 + 4 + 12 * k, width: Math.max(v ? 2 : 0, w), height: 10,
          fill: series[k].color || PALETTE[k % PALETTE.length] }, svg);
        tooltip(rect, r.label + " · " + series[k].label + ": " + v);
        text(svg, left + w + 4, y0 + 13 + 12 * k, String(v), "start");
      });
    });
    legend(host, series);
  }

  global.AduanCharts = { stackedBars: stackedBars, lines: lines, horizontalBars: horizontalBars };
})(window);
