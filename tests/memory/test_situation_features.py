"""Direction features read from a situation's words and from a decision's input context."""

import pytest

from apps.memory.services.situation import features_compare, features_from_context, situation_features


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("BTC oversold after a sharp drop", "rsi:oversold"),
        ("Bitcoin's RSI fell under 30 following a steep selloff", "rsi:oversold"),
        ("ETH RSI 27 on the 1h", "rsi:oversold"),
        ("SOL overbought, RSI 81", "rsi:overbought"),
        ("RSI above 70 after a rally", "rsi:overbought"),
        ("price in a clear uptrend with higher lows", "trend:up"),
        ("lower highs and lower lows on the daily", "trend:down"),
        ("shorts are paying longs on the perps", "funding:negative"),
        ("funding rate turned positive", "funding:positive"),
        ("funding at -0.03% for days", "funding:negative"),
        ("ETH broke out above the 3,000 resistance", "break:breakout"),
        ("BTC lost the 40k support on volume", "break:breakdown"),
    ],
)
def test_each_direction_is_read_from_the_words(text, expected):
    assert expected in situation_features(text)


def test_a_negated_or_two_sided_mention_gives_no_feature():
    assert "rsi:oversold" not in situation_features("BTC is no longer oversold")
    assert not any(
        f.startswith("rsi:") for f in situation_features("went from overbought to oversold in a day")
    )


def test_the_decision_context_gives_directions_and_wins_over_the_words():
    context = {"indicators": {"rsi": 24.5}, "trend": "bearish", "funding_rate": "-0.0001", "breakout": True}

    assert features_from_context(context) == {
        "rsi": "oversold",
        "trend": "down",
        "funding": "negative",
        "break": "breakout",
    }
    assert "trend:down" in situation_features("BTC in an uptrend", context)
    assert features_from_context(["not", "a", "mapping"]) == {}


def test_comparing_features_names_matches_and_opposites():
    assert features_compare(
        ["rsi:oversold", "trend:down"], ["rsi:overbought", "trend:down", "funding:positive"]
    ) == {
        "rsi": "opposite",
        "trend": "match",
    }
