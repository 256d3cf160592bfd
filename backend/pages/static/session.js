// Live session page: refresh the figures from the API every second; stop without a page reload.
(function () {
  "use strict";
  const root = document.getElementById("live");
  if (!root) return;
  const look = JSON.parse(root.dataset.look);
  const POLL_MS = 1000;
  const FINAL = ["completed", "failed"];
  const shanghai = new Intl.DateTimeFormat("sv-SE", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  });

  const field = (name) => root.querySelector(`[data-field="${name}"]`);
  const number = (value, digits) => Number(value).toLocaleString("en-US",
    { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const yuan = (amount) => (Number(amount) < 0 ? "-¥" : "¥") + number(Math.abs(Number(amount)), 2);
  const kwh = (wh) => number(wh / 1000, 3) + " kWh";
  const power = (w) => (w === null ? "—" : w < 1000 ? number(w, 0) + " W" : number(w / 1000, 2) + " kW");
  // The API's times are UTC; a value without an offset (from SQLite) is UTC too.
  const when = (iso) => (iso ? shanghai.format(new Date(/Z|[+-]\d\d:?\d\d$/.test(iso) ? iso : iso + "Z")) : "—");

  function show(session) {
    const status = field("status");
    status.textContent = look[session.status].text;
    status.className = "badge badge-" + look[session.status].badge;
    field("energy").textContent = kwh(session.energy_wh);
    field("amount").textContent = yuan(session.amount);
    field("power").textContent = power(session.power_w);
    field("started").textContent = when(session.started_at);
    field("failure").textContent = session.failure_reason || "";
    // A stop the meter has not confirmed in time: say so while it is still being waited for.
    const late = session.status === "stopping" && session.failure_reason;
    field("warning").textContent = late ? session.failure_reason : "";
    field("warning").hidden = !late;
    root.dataset.status = session.status;
    root.querySelectorAll("[data-show]").forEach((el) => {
      const wanted = el.dataset.show;
      el.hidden = wanted === "open" ? FINAL.includes(session.status) : wanted !== session.status;
    });
    if (session.status === "completed") {
      setTimeout(() => window.location.assign(root.dataset.receipt), 1500);
    }
  }

  function connection(text) {
    const note = field("connection");
    note.textContent = text || "";
    note.hidden = !text;
  }

  async function poll() {
    try {
      const response = await fetch(root.dataset.api, { headers: { Accept: "application/json" } });
      if (response.ok) {
        show(await response.json());
        connection("");
      } else {
        connection("Could not refresh (" + response.status + "). Retrying…");
      }
    } catch (error) {
      connection("No connection. Retrying…");
    }
    if (!FINAL.includes(root.dataset.status)) setTimeout(poll, POLL_MS);
  }

  const stopForm = root.querySelector(".stop-form");
  if (stopForm) {
    stopForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = stopForm.querySelector("button");
      button.disabled = true;
      try {
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const response = await fetch(stopForm.dataset.api,
          { method: "POST", headers: { Accept: "application/json", "X-CSRF-Token": csrf } });
        const body = await response.json();
        if (response.ok) show(body);
        else connection(body.detail || "Could not stop. Try again.");
      } catch (error) {
        stopForm.submit(); // the plain form post still works without the API
      } finally {
        button.disabled = false;
      }
    });
  }

  if (!FINAL.includes(root.dataset.status)) setTimeout(poll, POLL_MS);
})();
