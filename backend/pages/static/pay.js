// The waiting page of a payment confirmed in WeChat Pay or Alipay. Inside the apps it calls their JS bridge
// (WeChat: getBrandWCPayRequest, openBusinessView for 支付分; Alipay: tradePay for 资金预授权); everywhere it asks
// our server until the provider's notification, or the server's own query, confirms the payment. Nothing is
// fetched from elsewhere: the bridges are the apps' own objects.
(function () {
  "use strict";
  const root = document.getElementById("pay");
  if (!root) return;
  const text = root.querySelector('[data-field="text"]');
  let done = root.dataset.final === "yes";
  let tries = 0;

  async function poll() {
    if (done) return;
    tries += 1;
    try {
      const response = await fetch(root.dataset.status, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (response.ok && !response.redirected) {
        const state = await response.json();
        if (state.text) text.textContent = state.text;
        if (state.final) {
          done = true;
          if (state.go) window.location.assign(state.go);
          return;
        }
      }
    } catch (error) {
      // A weak network: ask again in a moment.
    }
    setTimeout(poll, Math.min(1500 + tries * 250, 10000));
  }

  function callBridge(call, finished) {
    const kind = root.dataset.bridge;
    if (kind === "wechat_pay" && window.WeixinJSBridge) {
      window.WeixinJSBridge.invoke("getBrandWCPayRequest", call, finished);
    } else if (kind === "wechat_score" && window.WeixinJSBridge) {
      window.WeixinJSBridge.invoke("openBusinessView", call, finished);
    } else if (kind === "alipay_trade" && window.AlipayJSBridge) {
      window.AlipayJSBridge.call("tradePay", call, finished);
    } else {
      return false;
    }
    return true;
  }

  function pay() {
    const call = JSON.parse(document.getElementById("bridge-call").textContent);
    if (callBridge(call, () => { tries = 0; })) return;
    if (root.dataset.fallback) window.location.assign(root.dataset.fallback);
    else root.querySelector("[data-no-bridge]").hidden = false;
  }

  if (root.dataset.bridge && !done) {
    root.querySelector("[data-pay]").addEventListener("click", pay);
    // Inside the apps the bridge object appears a moment after the page, announced by an event.
    const ready = root.dataset.bridge.startsWith("wechat") ? "WeixinJSBridgeReady" : "AlipayJSBridgeReady";
    if (window.WeixinJSBridge || window.AlipayJSBridge) pay();
    else document.addEventListener(ready, pay, { once: true });
    setTimeout(() => {
      if (!window.WeixinJSBridge && !window.AlipayJSBridge && !root.dataset.fallback) {
        root.querySelector("[data-no-bridge]").hidden = false;
      }
    }, 3000);
  }
  poll();
})();
