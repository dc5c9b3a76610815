"""One error body for every failure, and the right 4xx for each kind of bad request."""

import json

import pytest

from apps.execution.models import Order

pytestmark = pytest.mark.django_db


def _order(**overrides):
    order = {
        "exchange": "binance",
        "id": "1001",
        "clientOrderId": "c-1001",
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "limit",
        "status": "open",
        "amount": "0.01",
        "price": "45000",
        "timestamp": 1_767_225_600_000,
    }
    order.update(overrides)
    return order


def test_malformed_json_is_a_400_parse_error(api, binance):
    response = api.post("/api/v1/orders/", data='{"id": ', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert not Order.objects.exists()


def test_nan_and_infinity_are_refused_at_parsing(api, binance):
    body = json.dumps(_order()).replace('"0.01"', "NaN")

    response = api.post("/api/v1/orders/", data=body, content_type="application/json")

    assert response.status_code == 400
    assert "NaN" in response.json()["message"]
    assert not Order.objects.exists()


def test_a_body_that_is_not_json_is_a_415(api, binance):
    response = api.post("/api/v1/orders/", data="id=1", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_a_body_over_the_byte_limit_is_a_413(api, binance, settings):
    settings.API_MAX_BODY_BYTES = 1000
    body = json.dumps(_order(info={"padding": "x" * 2000}))

    response = api.post("/api/v1/orders/", data=body, content_type="application/json")

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert not Order.objects.exists()


def test_a_list_over_the_item_limit_is_a_413_and_nothing_is_written(api, binance):
    orders = [_order(id=str(n), clientOrderId=f"c-{n}") for n in range(1001)]

    response = api.post("/api/v1/orders/", orders, format="json")

    assert response.status_code == 413
    assert response.json()["code"] == "too_many_items"
    assert not Order.objects.exists()


def test_an_empty_list_and_a_scalar_body_are_400s(api, binance):
    assert api.post("/api/v1/orders/", [], format="json").status_code == 400
    assert api.post("/api/v1/orders/", data="42", content_type="application/json").status_code == 400


def test_an_unknown_path_under_the_api_is_a_json_404(api):
    response = api.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_an_unknown_object_is_a_404_in_the_error_body(api):
    response = api.get("/api/v1/orders/no-such-order/")

    assert response.status_code == 404
    assert set(response.json()) == {"code", "message", "details"}


def test_a_wrong_method_is_a_405(api):
    response = api.delete("/api/v1/orders/")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_a_bad_filter_value_is_a_400_naming_the_filter(api):
    response = api.get("/api/v1/orders/?status=sideways")

    assert response.status_code == 400
    assert "status" in response.json()["details"]


def test_a_bad_cursor_is_a_404_not_a_500(api):
    response = api.get("/api/v1/orders/?cursor=garbage")

    assert response.status_code == 404


def test_post_without_a_trailing_slash_is_not_redirected(api, binance):
    response = api.post("/api/v1/orders", _order(), format="json")

    assert response.status_code == 201
