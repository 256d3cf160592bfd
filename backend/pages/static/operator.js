// Operator overview: the live part (sessions, meters, alarms) pushed by server-sent events; polled every
// 2 seconds where EventSource is missing or keeps failing.
(function () {
  "use strict";
  const area = document.getElementById("live-area");
  if (!area) return;
  const POLL_MS = 2000;
  const FAILURES_BEFORE_POLLING = 3;
  let failures = 0;

  async function poll() {
    try {
      const response = await fetch(area.dataset.src, { headers: { Accept: "text/html" } });
      // A redirect means the sign-in expired: keep the last numbers rather than paste a login form.
      if (response.ok && !response.redirected) area.innerHTML = await response.text();
    } catch (error) {
      // Offline for a moment: try again on the next tick.
    }
    setTimeout(poll, POLL_MS);
  }

  if (!("EventSource" in window)) {
    setTimeout(poll, POLL_MS);
    return;
  }
  const source = new EventSource(area.dataset.events);
  source.onmessage = (event) => { failures = 0; area.innerHTML = JSON.parse(event.data).html; };
  source.onerror = () => {
    failures += 1;
    if (failures >= FAILURES_BEFORE_POLLING || source.readyState === EventSource.CLOSED) {
      source.close();
      setTimeout(poll, POLL_MS);
    }
  };
})();
