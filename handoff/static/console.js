// The agent console: live queue, several open chats as tabs, forms without page reloads.
// Plain JavaScript, no build step. Every form also works without it.
(function () {
  "use strict";
  const root = document.querySelector(".console") || document.querySelector(".single") ||
    document.querySelector(".alerts-page");
  const alertsBox = document.getElementById("alerts");
  const csrf = root ? root.dataset.csrf : "";
  const queueBox = document.getElementById("queue");
  const tabs = document.getElementById("tabs");
  const panels = document.getElementById("panels");
  const live = document.getElementById("live");
  const open = new Map(); // public_id -> {tab, panel}
  let socket = null;

  function countdowns() {
    const now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      const left = Math.round((Date.parse(el.dataset.due) - now) / 60000);
      const abs = Math.abs(left), h = Math.floor(abs / 60), m = abs % 60;
      const text = (h ? h + "j " : "") + m + "m";
      el.textContent = left < 0 ? (el.dataset.late || "late") + " " + text : text;
      el.classList.toggle("late", left < 0);
    });
    document.querySelectorAll("[data-since]").forEach(function (el) {
      el.textContent = Math.max(0, Math.round((now - Date.parse(el.dataset.since)) / 60000)) + "m";
    });
  }

  async function refreshQueue() {
    if (!queueBox) return;
    const res = await fetch("/console/queue", { headers: { "X-Requested-With": "fetch" } });
    if (res.ok) { queueBox.innerHTML = await res.text(); countdowns(); watchMine(); }
  }

  // Conversations I hold stay watched even without an open tab, so new messages mark them unread.
  function watchMine() {
    const ids = Array.from(document.querySelectorAll(".mine [data-open]")).map(function (a) { return a.dataset.open; });
    if (ids.length) watch(ids);
  }
  // A new SLA alert: refresh the alerts list and say so where the person is looking.
  async function alertRaised(e) {
    if (alertsBox) {
      const res = await fetch("/console/alerts?fragment=1", { headers: { "X-Requested-With": "fetch" } });
      if (res.ok) alertsBox.innerHTML = await res.text();
    }
    const toast = document.createElement("a");
    toast.className = "toast"; toast.setAttribute("role", "alert"); toast.setAttribute("data-testid", "alert-toast");
    toast.style.cssText = "position:fixed;right:1rem;bottom:1rem;padding:.75rem 1rem;background:#b42318;" +
      "color:#fff;border-radius:6px;z-index:1000;text-decoration:none;box-shadow:0 2px 8px rgba(0,0,0,.3)";
    toast.href = "/console/tickets/" + encodeURIComponent(e.ticket_number || "");
    // The alert's label in the page's language, from the refreshed list (the event carries only ids).
    const label = alertsBox && alertsBox.querySelector('[data-alert="' + e.alert_id + '"] .badge');
    toast.textContent = "⚠ " + (e.ticket_number || "") + " · " +
      (label ? label.textContent : (e.type || "").replace(/_/g, " "));
    document.body.appendChild(toast);
    setTimeout(function () { toast.remove(); }, 15000);
  }

  let queueTimer = null;
  function queueChanged() { clearTimeout(queueTimer); queueTimer = setTimeout(refreshQueue, 100); }

  function activate(id) {
    open.forEach(function (o, key) {
      o.tab.classList.toggle("active", key === id);
      o.panel.hidden = key !== id;
      if (key === id) o.tab.classList.remove("unread");
    });
  }

  async function openChat(id) {
    if (!panels) { location.href = "/console/c/" + id; return; }
    const res = await fetch("/console/c/" + id + "/panel", { headers: { "X-Requested-With": "fetch" } });
    const holder = document.createElement("div");
    holder.innerHTML = await res.text();
    const panel = holder.firstElementChild || holder;
    if (!res.ok) { alert(holder.textContent.trim()); return; }
    let entry = open.get(id);
    if (entry) { entry.panel.replaceWith(panel); entry.panel = panel; }
    else {
      const hint = panels.querySelector(".hint"); if (hint) hint.remove();
      const tab = document.createElement("button");
      tab.className = "tab"; tab.type = "button"; tab.dataset.tab = id;
      tab.textContent = (panel.querySelector(".panel-head strong") || {}).textContent || id.slice(0, 6);
      const x = document.createElement("span"); x.className = "x"; x.textContent = "×";
      x.addEventListener("click", function (ev) { ev.stopPropagation(); closeTab(id); });
      tab.appendChild(x);
      tab.addEventListener("click", function () { activate(id); });
      tabs.appendChild(tab);
      panels.appendChild(panel);
      entry = { tab: tab, panel: panel };
      open.set(id, entry);
      watch([id]);
    }
    activate(id);
    scrollDown(panel);
    countdowns();
  }

  function closeTab(id) {
    const o = open.get(id); if (!o) return;
    o.tab.remove(); o.panel.remove(); open.delete(id);
    const first = open.keys().next(); if (!first.done) activate(first.value);
  }

  function scrollDown(panel) { const m = panel.querySelector(".messages"); if (m) m.scrollTop = m.scrollHeight; }

  function panelOf(id) {
    const o = open.get(id);
    return o ? o.panel : document.querySelector('.panel[data-conversation="' + id + '"]');
  }

  async function newMessages(id) {
    const panel = panelOf(id);
    if (!panel) {
      const link = document.querySelector('.mine [data-open="' + id + '"]');
      if (link) link.classList.add("unread");
      return;
    }
    const list = panel.querySelector(".messages");
    const seqs = Array.from(list.querySelectorAll("[data-seq]")).map(function (li) { return +li.dataset.seq; });
    const after = seqs.length ? Math.max.apply(null, seqs) : 0;
    const res = await fetch("/console/c/" + id + "/messages?after=" + after, { headers: { "X-Requested-With": "fetch" } });
    if (!res.ok) return;
    const html = (await res.text()).trim();
    if (!html) return;
    // The reply's own fetch and the live event can both bring the same message: add each seq once.
    const tpl = document.createElement("template");
    tpl.innerHTML = html;
    Array.from(tpl.content.children).forEach(function (li) {
      if (li.dataset.seq && list.querySelector('[data-seq="' + li.dataset.seq + '"]:not(.note)')) return;
      list.appendChild(li);
    });
    scrollDown(panel);
    const o = open.get(id); if (o && o.panel.hidden) o.tab.classList.add("unread");
  }

  // Ticks beside outbound messages: refreshed on the provider's status reports ("delivery"
  // events) and, while any message is still on its way, every few seconds.
  const TICKS = { pending: "🕓", held: "⏸", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "✗" };
  async function refreshDeliveries(id) {
    const panel = panelOf(id);
    if (!panel) return;
    const res = await fetch("/console/c/" + id + "/deliveries", { headers: { "X-Requested-With": "fetch" } });
    if (!res.ok) return;
    const states = (await res.json()).deliveries || {};
    Object.keys(states).forEach(function (seq) {
      const li = panel.querySelector('.messages [data-seq="' + seq + '"]:not(.note)');
      if (!li) return;
      const d = states[seq];
      let box = li.querySelector(".delivery");
      if (!box) { box = document.createElement("div"); li.appendChild(box); }
      box.className = "delivery " + d.state;
      box.dataset.testid = "delivery";
      box.dataset.state = d.state;
      box.textContent = "";
      const ticks = document.createElement("span"); ticks.className = "ticks"; ticks.textContent = TICKS[d.state] || "";
      const label = document.createElement("span"); label.className = "label"; label.textContent = " " + d.label;
      box.appendChild(ticks); box.appendChild(label);
      if (d.template) box.appendChild(document.createTextNode(" · templat"));
      if (d.reason) {
        const reason = document.createElement("span"); reason.className = "reason"; reason.dataset.testid = "delivery-reason";
        reason.textContent = d.reason;
        box.appendChild(document.createTextNode(" · ")); box.appendChild(reason);
      }
    });
  }
  setInterval(function () {
    document.querySelectorAll(".panel").forEach(function (p) {
      if (p.querySelector('.delivery[data-state="pending"], .delivery[data-state="sent"]')) refreshDeliveries(p.dataset.conversation);
    });
  }, 4000);

  async function reloadPanel(id) {
    if (open.has(id)) return openChat(id);
    if (document.querySelector(".single")) location.reload();
  }

  function watch(ids) { if (socket && socket.readyState === 1) socket.send(JSON.stringify({ watch: ids })); }

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(proto + "//" + location.host + "/console/ws");
    socket.onopen = function () {
      if (live) { live.textContent = "● " + live.dataset.live; live.classList.add("on"); }
      const ids = Array.from(open.keys());
      document.querySelectorAll(".single .panel").forEach(function (p) { ids.push(p.dataset.conversation); });
      if (ids.length) watch(ids);
      watchMine();
      queueChanged();
    };
    socket.onmessage = function (ev) {
      const e = JSON.parse(ev.data);
      if (e.topic === "queue" || e.topic === "agent") queueChanged();
      if (e.topic === "alert") alertRaised(e);
      if (e.topic === "agent" && e.type === "assigned" && e.conversation_id) openChat(e.conversation_id);
      if (e.topic === "conversation" && e.conversation_id) {
        if (e.type === "message") newMessages(e.conversation_id);
        else if (e.type === "delivery") refreshDeliveries(e.conversation_id);
        else if (e.type === "transferred" || e.type === "closed" || e.type === "note") reloadPanel(e.conversation_id);
      }
    };
    socket.onclose = function () {
      if (live) { live.textContent = "○ " + live.dataset.offline; live.classList.remove("on"); }
      setTimeout(connect, 1500);
    };
  }

  // Forms marked data-ajax post with fetch and update the page in place.
  document.addEventListener("submit", async function (ev) {
    const form = ev.target;
    const kind = form.dataset.ajax;
    if (!kind) return;
    ev.preventDefault();
    const body = new FormData(form);
    const res = await fetch(form.action, { method: "POST", body: body,
      headers: { "X-Requested-With": "fetch", "X-CSRF-Token": csrf } });
    let data = {};
    try { data = await res.json(); } catch (e) { /* not json */ }
    if (!res.ok) { alert(data.message || res.statusText); queueChanged(); return; }
    const panel = form.closest(".panel");
    const id = (panel && panel.dataset.conversation) || data.conversation_id;
    if (kind === "pickup") { queueChanged(); if (id) openChat(id); }
    else if (kind === "queue") { queueChanged(); }
    else if (kind === "reply") { form.reset(); if (id) newMessages(id).then(function () { refreshDeliveries(id); }); }
    else if (kind === "close") { queueChanged(); if (open.has(id)) reloadPanel(id); else location.href = "/console"; }
    else if (kind === "panel" && id) { queueChanged(); reloadPanel(id); }
  });

  document.addEventListener("click", function (ev) {
    const link = ev.target.closest("[data-open]");
    if (!link || !panels) return;
    ev.preventDefault();
    openChat(link.dataset.open);
  });

  document.addEventListener("keydown", function (ev) {
    // Enter sends, Shift+Enter breaks the line.
    if (ev.key === "Enter" && !ev.shiftKey && ev.target.matches(".reply textarea")) {
      ev.preventDefault(); ev.target.form.requestSubmit();
    }
  });

  countdowns();
  setInterval(countdowns, 30000);
  if (root) connect();
  document.querySelectorAll(".single .panel").forEach(function (p) { scrollDown(p); });
})();
