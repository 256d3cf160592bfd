"""Every refusal has one shape, and the OpenAPI document declares each status a route can answer."""


def test_every_api_operation_declares_its_refusals_with_the_error_body(api_client):
    document = api_client.get("/openapi.json").json()

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            assert "400" in answers, f"{method.upper()} {path}"
            for status, answer in answers.items():
                if status.startswith(("4", "5")) and path != "/readyz":
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, f"{method.upper()} {path} {status}"
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_routes_that_take_input_declare_422_and_the_others_do_not(api_client):
    paths = api_client.get("/openapi.json").json()["paths"]

    assert paths["/api/v1/points/{point_id}"]["get"]["responses"]["422"]["description"] == "ValidationError"
    assert "422" not in paths["/api/v1/wallet"]["get"]["responses"]
    assert paths["/api/v1/tariffs"]["post"]["responses"]["422"]["description"] == \
        "InvalidTariffDocument, ValidationError"


def test_an_unknown_api_address_is_a_404_in_the_error_shape(api_client):
    answer = api_client.get("/api/v1/nowhere")

    assert answer.status_code == 404
    assert answer.json() == {"error": "NotFound", "detail": "Not Found"}


def test_a_wrong_method_is_a_405_listing_every_method_of_the_address(api_client):
    answer = api_client.delete("/api/v1/points")

    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    assert answer.json()["error"] == "MethodNotAllowed"


def test_a_body_that_is_not_text_is_a_400_in_the_error_shape(api_client):
    answer = api_client.post("/api/v1/auth/signup", content=b"\xff\xfe{", headers={"Content-Type": "application/json"})

    assert answer.status_code == 400
    assert answer.json()["error"] == "BadRequest"
