/* Draws the supervisor dashboard from /api/v1/dashboard and polls it every data-refresh seconds. */
(function () {
  "use strict";
  var root = document.getElementById("dashboard");
  if (!root || !window.AduanCharts) return;
  var C = window.AduanCharts;
  var endpoint = root.getAttribute("data-endpoint");
  var refresh = Math.max(5, parseInt(root.getAttribute("data-refresh"), 10) || 30) * 1000;
  var status = root.querySelector("[data-role=status]");

  function chart(name) { return root.querySelector('[data-chart="' + name + '"]'); }
  function kpi(name, value) { root.querySelector('[data-kpi="' + name + '"]').textContent = value; }
  function pct(rate) { return rate == null ? "–" : (Math.round(rate * 1000) / 10).toFixed(1) + "%"; }

  function draw(data) {
    var sla = data.sla;
    kpi("open", sla.open);
    kpi("compliance", pct(sla.compliance_rate));
    kpi("resolution_overdue", sla.resolution_overdue);
    kpi("first_response_overdue", sla.first_response_overdue);
    kpi("bot_failures", data.bot_failures.total);
    kpi("csat", data.csat.average == null ? "–" : data.csat.average.toFixed(2) + " (" + data.csat.responses + ")");

    C.stackedBars(chart("volume_by_category"), data.volume_by_category.buckets, data.volume_by_category.series);
    C.stackedBars(chart("volume_by_channel"), data.volume_by_channel.buckets, data.volume_by_channel.series);
    C.stackedBars(chart("sla"), sla.buckets, [
      { label: "Terpenuhi", values: sla.met, color: "#2e8540" },
      { label: "Terlampaui", values: sla.breached, color: "#b32d2e" }]);
    C.stackedBars(chart("open_by_age"), data.open_by_age.map(function (b) { return b.label; }),
      [{ label: "Tiket terbuka", values: data.open_by_age.map(function (b) { return b.count; }) }]);
    C.lines(chart("response_times"), data.response_times.buckets, [
      { label: "Tanggapan pertama (jam)", values: data.response_times.first_response_hours },
      { label: "Penyelesaian (jam)", values: data.response_times.resolution_hours }]);
    C.stackedBars(chart("csat"), data.csat.distribution.map(function (d) { return "★" + d.rating; }),
      [{ label: "Jumlah penilaian", values: data.csat.distribution.map(function (d) { return d.count; }), color: "#e07b00" }]);
    C.horizontalBars(chart("agent_load"), data.agent_load.map(function (a) {
      return { label: a.name + (a.available ? "" : " (off)"), values: [a.live_chats, a.capacity, a.open_tickets] };
    }), [{ label: "Chat aktif" }, { label: "Kapasitas chat", color: "#c8d3dc" }, { label: "Tiket terbuka" }]);

    var box = root.querySelector("[data-role=reminders]");
    var reminders = data.report_reminders || [];
    box.hidden = !reminders.length;
    box.textContent = "";
    reminders.forEach(function (r) {
      var p = document.createElement("p");
      p.textContent = "⏰ " + r.message;
      box.appendChild(p);
    });
  }

  function load() {
    fetch(endpoint, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.json();
      })
      .then(function (data) {
        draw(data);
        status.className = "dash-status";
        status.textContent = "Diperbarui " + new Date().toLocaleTimeString("id-ID") + " · otomatis tiap " + refresh / 1000 + " detik";
      })
      .catch(function (err) {
        status.className = "dash-status error";
        status.textContent = "Gagal memuat data (" + err.message + "); mencoba lagi.";
      })
      .then(function () { setTimeout(load, refresh); });
  }

  load();
})();
