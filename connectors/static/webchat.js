// Aduan web chat: plain JavaScript, no build step.
// Talks to /chat/api/messages (send, history) and /chat/ws (pushed replies).
// Every message carries its database id; `seen` de-duplicates what arrives both
// in a POST answer and on the websocket. A send is retried with the same
// client_message_id, which the desk deduplicates.
(function () {
  "use strict";

  var root = document.getElementById("chat");
  var demo = root.dataset.demo === "true";
  var maxChars = parseInt(root.dataset.maxChars, 10) || 4096;
  var list = document.getElementById("messages");
  var statusEl = document.getElementById("status");
  var notice = document.getElementById("notice");
  var composer = document.getElementById("composer");
  var input = document.getElementById("text");
  var sendButton = document.getElementById("send");
  var fileInput = document.getElementById("file");

  var token = null;
  var lastId = 0;
  var seen = new Set();
  var socket = null;
  var reconnectDelay = 1000;
  var reconnectTimer = null;

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function setStatus(text) { statusEl.textContent = text; }
  function showNotice(text) { notice.textContent = text; notice.hidden = !text; }
  function enable(on) { input.disabled = !on; sendButton.disabled = !on; if (fileInput) fileInput.disabled = !on; }

  function who(m) {
    if (m.direction === "in") return "Anda";
    if (m.author === "agent") return "Petugas CS";
    return "Asisten virtual";
  }

  function bubble(direction, author) {
    var li = document.createElement("li");
    li.className = "msg " + direction + (author ? " " + author : "");
    list.appendChild(li);
    return li;
  }

  function fillBubble(li, m) {
    li.textContent = "";
    var label = document.createElement("span");
    label.className = "who";
    label.textContent = who(m);
    li.appendChild(label);
    li.appendChild(document.createTextNode(m.text || ""));
    (m.media || []).forEach(function () {
      li.appendChild(document.createTextNode("\n[lampiran diterima]"));
    });
    (m.files || []).forEach(function (f) {
      if (!f.url) return;
      var a = document.createElement("a");
      a.href = f.url; a.target = "_blank"; a.rel = "noopener"; a.className = "file";
      a.textContent = "📎 " + (f.filename || (f.content_type === "application/pdf" ? "Buka PDF" : "Buka gambar"));
      li.appendChild(document.createElement("br"));
      li.appendChild(a);
    });
    if (m.buttons && m.buttons.length) {
      var row = document.createElement("div");
      row.className = "buttons";
      m.buttons.forEach(function (b) {
        var btn = document.createElement("button");
        btn.type = "button";
        btn.textContent = b.title;
        btn.addEventListener("click", function () {
          Array.prototype.forEach.call(row.querySelectorAll("button"), function (x) { x.disabled = true; });
          send(b.title, b.payload);
        });
        row.appendChild(btn);
      });
      li.appendChild(row);
    }
  }

  // Render a stored message once, whichever way it arrived.
  function show(m) {
    if (seen.has(m.id)) return;
    seen.add(m.id);
    lastId = Math.max(lastId, m.id);
    fillBubble(bubble(m.direction, m.author), m);
    list.scrollTop = list.scrollHeight;
  }

  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (token) headers["Authorization"] = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) { return { status: r.status, data: data }; });
      });
  }

  function sessionEnded() {
    token = null;
    enable(false);
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
    setStatus("Sesi berakhir");
    showNotice(demo ? "Sesi Anda sudah berakhir. Silakan pilih peminjam contoh dan tekan Mulai lagi."
                    : "Sesi Anda sudah berakhir. Silakan buka kembali menu chat di aplikasi.");
  }

  function send(text, payload) {
    if (!token) return;
    if (text.length > maxChars) { showNotice("Pesan terlalu panjang. Maksimal " + maxChars + " karakter ya, Kak."); return; }
    var clientId = uuid();
    var mine = bubble("in");
    mine.classList.add("pending");
    fillBubble(mine, { direction: "in", text: text });
    list.scrollTop = list.scrollHeight;
    var body = { text: text, client_message_id: clientId };
    if (payload) body.button_payload = payload;

    function attempt(n) {
      return api("POST", "/chat/api/messages", body).then(function (res) {
        if (res.status === 200) {
          mine.classList.remove("pending");
          if (res.data.message_id) { seen.add(res.data.message_id); lastId = Math.max(lastId, res.data.message_id); }
          (res.data.replies || []).forEach(show);
          showNotice("");
          return;
        }
        if (res.status === 401) { sessionEnded(); mine.classList.add("failed"); return; }
        if (res.status === 413) { mine.classList.add("failed"); showNotice("Pesan terlalu panjang. Maksimal " + maxChars + " karakter ya, Kak."); return; }
        if (res.status >= 500 && n < 4) { return retryLater(n); }
        mine.classList.add("failed");
        showNotice("Maaf, pesan belum terkirim. Silakan coba lagi.");
      }, function () {
        if (n < 4) return retryLater(n);
        mine.classList.add("failed");
        showNotice("Koneksi terputus. Pesan belum terkirim, silakan coba lagi.");
      });
    }
    // Same client_message_id on every retry: the desk stores the message once.
    function retryLater(n) {
      showNotice("Koneksi lambat, mencoba mengirim ulang…");
      return new Promise(function (resolve) { setTimeout(resolve, 1000 * Math.pow(2, n)); })
        .then(function () { return attempt(n + 1); });
    }
    return attempt(0);
  }

  function loadHistory() {
    return api("GET", "/chat/api/messages?after=" + lastId).then(function (res) {
      if (res.status === 401) { sessionEnded(); return; }
      (res.data.messages || []).forEach(show);
    });
  }

  function connect() {
    if (!token) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    // The token goes in the first frame, not the URL, so it stays out of access logs.
    socket = new WebSocket(scheme + location.host + "/chat/ws?after=" + lastId);
    socket.onopen = function () { socket.send(JSON.stringify({ type: "auth", token: token })); };
    socket.onmessage = function (ev) {
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      if (data.type === "ready") { setStatus("Tersambung"); reconnectDelay = 1000; showNotice(""); }
      if (data.type === "message") show(data.message);
    };
    socket.onclose = function (ev) {
      socket = null;
      if (ev.code === 4401) { sessionEnded(); return; }
      setStatus("Menyambungkan ulang…");
      clearTimeout(reconnectTimer);
      reconnectTimer = setTimeout(function () {
        // Fetch anything missed while offline, then listen again.
        loadHistory().then(connect, connect);
      }, reconnectDelay);
      reconnectDelay = Math.min(reconnectDelay * 2, 15000);
    };
  }

  function start(newToken) {
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
    token = newToken;
    lastId = 0;
    seen = new Set();
    list.textContent = "";
    showNotice("");
    enable(true);
    loadHistory().then(connect);
  }

  // A photo or PDF goes to /chat/api/uploads as its own message; the desk checks type and size.
  function upload(file) {
    if (!token || !file) return;
    var mine = bubble("in");
    mine.classList.add("pending");
    fillBubble(mine, { direction: "in", text: "[berkas] " + file.name });
    var form = new FormData();
    form.append("client_message_id", uuid());
    form.append("file", file, file.name);
    fetch("/chat/api/uploads", { method: "POST", headers: { "Authorization": "Bearer " + token }, body: form })
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (d) { return { status: r.status, data: d }; }); })
      .then(function (res) {
        if (res.status === 200) {
          mine.classList.remove("pending");
          if (res.data.message_id) { seen.add(res.data.message_id); lastId = Math.max(lastId, res.data.message_id); }
          (res.data.replies || []).forEach(show);
          showNotice("");
          return;
        }
        mine.classList.add("failed");
        if (res.status === 401) { sessionEnded(); return; }
        if (res.status === 413) { showNotice("Berkas terlalu besar. Maksimal 10 MB ya, Kak."); return; }
        if (res.status === 415) { showNotice("Maaf, hanya foto (JPEG, PNG, WebP) atau PDF yang bisa dikirim."); return; }
        showNotice("Maaf, berkas belum terkirim. Silakan coba lagi.");
      }, function () {
        mine.classList.add("failed");
        showNotice("Koneksi terputus. Berkas belum terkirim, silakan coba lagi.");
      });
  }
  if (fileInput) {
    fileInput.addEventListener("change", function () {
      var file = fileInput.files && fileInput.files[0];
      fileInput.value = "";
      upload(file);
    });
  }

  composer.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); composer.requestSubmit(); }
  });

  if (demo) {
    var form = document.getElementById("demo-form");
    var select = document.getElementById("demo-borrower");
    api("GET", "/chat/demo-borrowers").then(function (res) {
      (res.data.borrowers || []).forEach(function (b) {
        var opt = document.createElement("option");
        opt.value = b.customer_id;
        opt.textContent = b.customer_id + (b.name ? " (" + b.name + ")" : "");
        select.appendChild(opt);
      });
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      api("POST", "/chat/demo-token", { customer_id: select.value }).then(function (res) {
        if (res.status === 200) start(res.data.token);
        else showNotice("Token demo tidak bisa dibuat.");
      });
    });
    setStatus("Pilih peminjam contoh untuk mulai");
  } else {
    var match = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
    var appToken = match ? decodeURIComponent(match[1]) : window.AduanToken;
    if (appToken) start(appToken);
    else showNotice("Silakan buka chat ini dari aplikasi.");
  }
})();
