"""How a page hands a payment over to WeChat Pay or Alipay, from what the provider answered: pure."""
from urllib.parse import parse_qs, urlsplit

from backend.pages.pay_handover import handover

BACK = "https://power.example.cn/pay/sps20261204abcdef0123456789"


def test_wechat_h5_is_a_redirect_to_its_cashier_that_comes_back_to_our_waiting_page():
    way = handover({"h5_url": "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1"}, BACK)
    assert way.bridge is None and way.redirect.startswith("https://wx.tenpay.com/")
    assert parse_qs(urlsplit(way.redirect).query) == {"prepay_id": ["wx1"], "redirect_url": [BACK]}


def test_alipay_wap_is_a_redirect_to_its_signed_pay_url():
    url = "https://openapi.alipay.com/gateway.do?app_id=1&sign=abc"
    assert handover({"pay_url": url, "page_pay_url": url + "&page"}, BACK).redirect == url


def test_in_app_confirmations_call_the_apps_bridge():
    jsapi = {"appId": "wx", "timeStamp": "1", "nonceStr": "n", "package": "prepay_id=wx1", "signType": "RSA",
             "paySign": "s", "prepay_id": "wx1"}
    way = handover(jsapi, BACK)
    assert way.bridge == "wechat_pay" and "prepay_id" not in way.call and way.call["paySign"] == "s"
    score = {"business_type": "wxpayScoreUse", "mch_id": "19", "package": "p=1", "timestamp": "1", "nonce_str": "n",
             "sign_type": "HMAC-SHA256", "sign": "S"}
    way = handover(score, BACK)
    assert way.bridge == "wechat_score" and way.call["businessType"] == "wxpayScoreUse"
    assert parse_qs(way.call["queryString"])["package"] == ["p=1"]
    assert handover({"order_str": "a=1&sign=x"}, BACK).call == {"orderStr": "a=1&sign=x"}


def test_nothing_to_hand_over_is_said_so():
    assert not handover({}, BACK).possible
