from backend.deps import COOKIE_NAME


def test_login_sets_an_httponly_cookie_and_redirects_to_the_role_home(anonymous):
    response = anonymous.post("/login", data={"phone": "13800000003", "password": "correct-horse-9"},
                              follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/me"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie


def test_login_goes_on_to_a_local_next_page(anonymous, world):
    response = anonymous.post("/login", data={"phone": "13800000003", "password": "correct-horse-9",
                                              "next": f"/s/{world.tokens[0]}"}, follow_redirects=False)
    assert response.headers["location"] == f"/s/{world.tokens[0]}"


def test_login_ignores_a_next_that_leaves_the_site(anonymous):
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = anonymous.post("/login", data={"phone": "13800000001", "password": "correct-horse-9",
                                                  "next": target}, follow_redirects=False)
        assert response.headers["location"] == "/operator"


def test_wrong_password_shows_the_form_again_with_a_reason(anonymous):
    response = anonymous.post("/login", data={"phone": "13800000003", "password": "nope-nope"})
    assert response.status_code == 401
    assert "Wrong phone number or password." in response.text
    assert COOKIE_NAME not in anonymous.cookies


def test_signup_creates_a_vendor_signs_in_and_returns_to_the_outlet(anonymous, world):
    response = anonymous.post("/signup", data={"phone": "13900000009", "password": "long-enough-1", "role": "vendor",
                                               "next": f"/s/{world.tokens[1]}"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/s/{world.tokens[1]}"
    assert "Top up" in anonymous.get(f"/s/{world.tokens[1]}").text


def test_signup_explains_each_bad_field(anonymous):
    response = anonymous.post("/signup", data={"phone": "abc", "password": "short", "role": "operator"})
    assert response.status_code == 422
    assert 'id="err-phone">Not in the expected format' in response.text
    assert 'id="err-password">At least 8 characters' in response.text
    assert "Operators are created by an operator" in response.text


def test_signup_with_a_registered_phone_says_so(anonymous):
    response = anonymous.post("/signup", data={"phone": "13800000003", "password": "long-enough-1"})
    assert response.status_code == 422
    assert "already registered" in response.text


def test_logout_forgets_the_cookie(vendor):
    response = vendor.post("/logout", follow_redirects=False)
    assert response.status_code == 303
    assert vendor.get("/me", follow_redirects=False).headers["location"].startswith("/login?next=/me")


def test_landing_links_a_signed_in_user_to_their_home(applicant, anonymous):
    assert 'href="/applicant"' in applicant.get("/").text
    assert 'href="/login"' in anonymous.get("/").text


def test_a_page_that_needs_a_sign_in_sends_to_login_with_next(anonymous):
    response = anonymous.get("/operator", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/operator"


def test_an_unknown_address_gets_a_page_but_the_api_keeps_json(anonymous):
    page = anonymous.get("/no/such/page")
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    api = anonymous.get("/api/v1/no/such/thing")
    assert api.status_code == 404 and api.json() == {"error": "NotFound", "detail": "Not Found"}
