// "Use my location" on the application form: fill latitude and longitude from the phone's position.
(function () {
  "use strict";
  const button = document.querySelector("[data-locate]");
  if (!button || !("geolocation" in navigator)) return;
  const note = document.querySelector("[data-locate-note]");
  const input = (name) => document.querySelector(`input[name="${name}"]`);
  button.hidden = false;
  button.addEventListener("click", () => {
    button.disabled = true;
    note.textContent = button.dataset.busy;
    navigator.geolocation.getCurrentPosition((position) => {
      input("latitude").value = position.coords.latitude.toFixed(6);
      input("longitude").value = position.coords.longitude.toFixed(6);
      note.textContent = "";
      button.disabled = false;
    }, () => {
      note.textContent = button.dataset.failed;
      button.disabled = false;
    }, { enableHighAccuracy: true, timeout: 15000 });
  });
})();
