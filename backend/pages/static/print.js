// Any button marked data-print prints the page (receipts, QR label sheets).
document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
