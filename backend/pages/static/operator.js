// Operator dashboard: swap in fresh meters and open-sessions tables every 2 seconds.
(function () {
  "use strict";
  const area = document.getElementById("live-area");
  if (!area) return;
  const POLL_MS = 2000;

  async function refresh() {
    try {
      const response = await fetch(area.dataset.src, { headers: { Accept: "text/html" } });
      // A redirect means the sign-in expired: keep the last numbers rather than paste a login form.
      if (response.ok && !response.redirected) area.innerHTML = await response.text();
    } catch (error) {
      // Offline for a moment: try again on the next tick.
    }
    setTimeout(refresh, POLL_MS);
  }

  setTimeout(refresh, POLL_MS);
})();
