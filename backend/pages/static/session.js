// Live session page: figures pushed by server-sent events; polling when EventSource is missing or keeps failing.
// The server words and formats every figure (in the page's language), so this script only places them.
(function () {
  "use strict";
  const root = document.getElementById("live");
  if (!root) return;
  const POLL_MS = 1500;
  const FAILURES_BEFORE_POLLING = 3;
  let finished = root.dataset.final === "yes";
  let source = null;
  let failures = 0;

  const field = (name) => root.querySelector(`[data-field="${name}"]`);

  function connection(text) {
    const note = field("connection");
    note.textContent = text || "";
    note.hidden = !text;
  }

  function show(figures) {
    for (const name of ["status_text", "energy", "amount", "amount_label", "power", "started", "updated"]) {
      const el = field(name);
      if (el) el.textContent = figures[name];
    }
    root.querySelector("[data-badge]").className = "badge badge-" + figures.badge;
    const box = root.querySelector("[data-notices]");
    box.replaceChildren(...figures.notices.map((n) => {
      const p = document.createElement("p");
      p.className = "notice notice-" + n.kind;
      p.textContent = n.text;
      return p;
    }));
    root.querySelectorAll("[data-show]").forEach((el) => {
      const wanted = el.dataset.show;
      el.hidden = wanted === "open" ? figures.final : wanted !== figures.status;
    });
    connection("");
    if (figures.final) {
      finished = true;
      if (source) source.close();
      if (figures.receipt) setTimeout(() => window.location.assign(figures.receipt), 1500);
    }
  }

  async function poll() {
    try {
      const response = await fetch(root.dataset.figures, { headers: { Accept: "application/json" } });
      if (response.ok && !response.redirected) show(await response.json());
      else connection(root.dataset.offline);
    } catch (error) {
      connection(root.dataset.offline);
    }
    if (!finished) setTimeout(poll, POLL_MS);
  }

  function listen() {
    if (!("EventSource" in window)) return poll();
    source = new EventSource(root.dataset.events);
    source.onmessage = (event) => { failures = 0; show(JSON.parse(event.data)); };
    source.onerror = () => {
      if (finished) return;
      failures += 1;
      // A stream that ends on purpose reconnects by itself; one that keeps failing gives way to polling.
      if (failures >= FAILURES_BEFORE_POLLING || source.readyState === EventSource.CLOSED) {
        source.close();
        connection(root.dataset.offline);
        poll();
      }
    };
  }

  const stopForm = root.querySelector(".stop-form");
  if (stopForm) {
    stopForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = stopForm.querySelector("button");
      button.disabled = true;
      try {
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const response = await fetch(root.dataset.stop,
          { method: "POST", headers: { Accept: "application/json", "X-CSRF-Token": csrf } });
        if (!response.ok) connection(root.dataset.stopFailed);
      } catch (error) {
        stopForm.submit(); // the plain form post still works without the API
      } finally {
        button.disabled = false;
      }
    });
  }

  if (!finished) listen();
})();
