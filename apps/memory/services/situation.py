"""Situation features that carry direction: RSI zone, trend, funding sign, breakout or breakdown.

Embeddings and word overlap both see the topic of a situation ("RSI", "funding", "a break of a level")
far more than its direction: "oversold" and "overbought" sit close together in every embedding tried.
So recall reads the direction separately, from the situation's own words and, where the experience
came from a decision, from the decision's input context (`rsi`, `trend`, `funding_rate`, ...), and the
ranking boosts a hit whose direction matches the query's and pushes down one whose direction is the
opposite (services/recall.py). A dimension the text does not speak of, or speaks of both ways, is
left out: no feature is better than a wrong one.

Features are written "dimension:value" (`rsi:oversold`, `trend:down`, `funding:negative`,
`break:breakout`) and stored in each point's payload as `features`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

FEATURES_VERSION = 1

# dimension -> its two directions; each is the other's opposite.
DIMENSIONS: dict[str, tuple[str, str]] = {
    "rsi": ("oversold", "overbought"),
    "trend": ("up", "down"),
    "funding": ("positive", "negative"),
    "break": ("breakout", "breakdown"),
    # Beyond the four above, the other directions trading prose carries:
    "move": ("up", "down"),  # what the price did
    "side": ("long", "short"),  # what was (or is to be) done
    "level": ("resistance", "support"),  # which level is in play
    "divergence": ("bullish", "bearish"),
    "flows": ("accumulation", "distribution"),  # coins leaving or reaching exchanges
    "dominance": ("rising", "falling"),  # bitcoin's share of the market
    "inflation": ("cool", "hot"),
}

_NUMBER = r"(\d{1,3}(?:\.\d+)?)"
_LEVEL = r"(?:the\s+)?(?:\d+[\s-]?(?:day|d|week|w|period)?\s*)?(?:ema|sma|ma|moving average|vwap)"

# Phrases for each direction. Written for trading prose: words, jargon, numbers.
_PATTERNS: dict[tuple[str, str], list[str]] = {
    ("rsi", "oversold"): [
        r"over[\s-]?sold",
        r"rsi\s+(?:\w+\s+){0,3}(?:below|under|beneath|sub|less than|<)\s*(?:30|25|20)\b",
        r"sub[\s-]?(?:30|25|20)\s+rsi",
        r"rsi\s+(?:in\s+)?the\s+(?:low|mid)?\s*(?:20s|teens)",
        r"washed[\s-]out",
        r"stretched\s+to\s+the\s+downside",
    ],
    ("rsi", "overbought"): [
        r"over[\s-]?bought",
        r"rsi\s+(?:\w+\s+){0,3}(?:above|over|past|beyond|greater than|>)\s*(?:70|75|80)\b",
        r"rsi\s+(?:in\s+)?the\s+(?:high|mid)?\s*(?:70s|80s|90s)",
        r"over[\s-]?heated",
        r"stretched\s+to\s+the\s+upside",
    ],
    ("move", "up"): [
        r"(?:rall(?:y|ied|ies|ying)|pump(?:s|ed|ing)?|surg(?:e|ed|es|ing)|ripp(?:ed|ing)|rips|jump(?:s|ed)?|soar"
        r"(?:s|ed|ing)?|pops?|flying|climb(?:s|ed|ing)?|ran up|runs? up|parabolic|spikes? (?:higher|up)|"
        r"up \d+(?:\.\d+)?%|gain(?:ed|s)? \d+|squeez(?:e|es|ed) up)\b",
    ],
    ("move", "down"): [
        r"(?:dump(?:s|ed|ing)?|drops?|dropped|sell[\s-]?off|sold off|sells off|tank(?:s|ed|ing)?|"
        r"plung(?:e|es|ed|ing)|crash(?:es|ed)?|fell|falls|slid(?:es)?|collaps(?:e|es|ed|ing)|flush(?:ed)?|bleed(?:s|ing)?|"
        r"down \d+(?:\.\d+)?%|lost \d+(?:\.\d+)?%|sells? off)\b",
    ],
    ("side", "long"): [
        r"(?:went|go|going|opened a|open a|entered|took a) long",
        r"(?:longed|bought|buy the|buying the|added to the long|accumulat(?:e|ed|ing))\b",
    ],
    ("side", "short"): [
        r"(?:went|go|going|opened a|open a|entered|took a) (?:small )?short",
        r"(?:shorted|sold the|sell the|selling the|shorting|faded|fade it|fade the|added to the short|"
        r"distribut(?:e|ed|ing))\b",
    ],
    ("level", "resistance"): [
        r"resistance",
        r"range high",
        r"(?:top|upper boundary|ceiling) of (?:the |its )?(?:range|channel)",
        r"(?:channel|range) top",
        r"upper boundary",
        r"ceiling",
    ],
    ("level", "support"): [
        r"support",
        r"range low",
        r"(?:bottom|lower boundary|floor) of (?:the |its )?(?:range|channel)",
        r"(?:channel|range) bottom",
        r"lower boundary",
        r"floor",
    ],
    ("divergence", "bullish"): [
        r"(?:bullish|positive)\s+(?:rsi\s+|momentum\s+)?divergence",
        r"diverging\s+upward",
        r"lower\s+(?:price\s+)?low\s+(?:\w+\s+){0,3}(?:rsi|momentum|oscillator)\s+(?:made\s+a\s+)?higher\s+low",
        r"(?:rsi|momentum|oscillator)\s+(?:made\s+a\s+)?higher\s+low",
    ],
    ("divergence", "bearish"): [
        r"(?:bearish|negative)\s+(?:rsi\s+|momentum\s+)?divergence",
        r"diverging\s+downward",
        r"higher\s+(?:price\s+)?high\s+(?:\w+\s+){0,3}(?:rsi|momentum|oscillator)\s+(?:made\s+a\s+)?lower\s+high",
        r"(?:rsi|momentum|oscillator)\s+(?:made\s+a\s+)?lower\s+high",
    ],
    ("flows", "accumulation"): [
        r"outflows?",
        r"(?:withdraw(?:s|ing|ew)?|leaving|off)\s+(?:\w+\s+){0,2}exchanges?",
        r"off[\s-]exchange",
        r"accumulat(?:e|es|ed|ing|ion)",
        r"stacking",
        r"reserves\s+(?:\w+\s+){0,2}(?:drop|dropping|fall|falling|low|lows)",
    ],
    ("flows", "distribution"): [
        r"inflows?",
        r"(?:deposit(?:s|ing|ed)?|flowing into|sending|sent|onto|into)\s+(?:\w+\s+){0,3}exchanges?",
        r"distribut(?:e|es|ed|ing|ion)",
        r"reserves\s+(?:\w+\s+){0,2}(?:jump|jumped|rise|rising|climb)",
    ],
    ("dominance", "rising"): [
        r"dominance\s+(?:\w+\s+){0,1}(?:rising|rises|climbing|climbs|up|going up)",
        r"btc\.d\s+rises",
        r"(?:rises|rising|climbs)\s+(?:\w+\s+){0,1}dominance",
        r"alts?(?:coins)?\s+(?:bleed|bleeding|lag|lagging|underperform)",
    ],
    ("dominance", "falling"): [
        r"dominance\s+(?:\w+\s+){0,1}(?:falling|falls|dropping|drops|down|going down)",
        r"btc\.d\s+falls",
        r"alts?(?:coins)?\s+(?:pumping|outperform|leading)",
        r"altseason",
    ],
    ("inflation", "cool"): [
        r"(?:cool|cooler|soft|softer)\s+(?:\w+\s+){0,2}(?:cpi|inflation|consumer price)",
        r"(?:cpi|inflation)\s+(?:\w+\s+){0,3}(?:lower|below|under|cooler|miss(?:es)? to the downside)",
        r"cpi miss",
    ],
    ("inflation", "hot"): [
        r"(?:hot|hotter|sticky)\s+(?:\w+\s+){0,2}(?:cpi|inflation|consumer price)",
        r"(?:cpi|inflation)\s+(?:\w+\s+){0,3}(?:higher|above|over|hotter|beat to the upside)",
        r"cpi beat",
    ],
    ("trend", "up"): [
        r"up[\s-]?trend",
        r"trend(?:ing|s|ed)?\s+(?:up|higher)",
        r"higher\s+highs",
        r"higher\s+lows",
        r"(?:bullish|bull|rising)\s+(?:trend|structure|market structure)",
        rf"(?:above|over)\s+{_LEVEL}",
        r"golden\s+cross",
        r"crossed\s+(?:over|above)\s+the\s+200",
        r"crossed\s+the\s+200\w*\s+upward",
        r"50\s+above\s+200",
    ],
    ("trend", "down"): [
        r"down[\s-]?trend",
        r"trend(?:ing|s|ed)?\s+(?:down|lower)",
        r"lower\s+highs",
        r"lower\s+lows",
        r"(?:bearish|bear|falling)\s+(?:trend|structure|market structure)",
        rf"(?:below|under|beneath)\s+{_LEVEL}",
        r"death\s+cross",
        r"crossed\s+(?:under|below)\s+the\s+200",
        r"crossed\s+the\s+200\w*\s+downward",
        r"50\s+below\s+200",
    ],
    ("funding", "positive"): [
        r"positive\s+(?:perp(?:etual)?s?\s+)?funding",
        r"funding\s+(?:rates?\s+)?(?:\w+\s+){0,4}(?:positive|elevated|high|rich|hot)",
        r"longs\s+(?:are\s+)?pay(?:ing|s)?\s+(?:the\s+)?shorts",
        r"funding\s+(?:rates?\s+)?(?:of|at)?\s*\+\s*\d",
    ],
    ("funding", "negative"): [
        r"negative\s+(?:perp(?:etual)?s?\s+)?funding",
        r"funding\s+(?:rates?\s+)?(?:\w+\s+){0,4}(?:negative|below zero|under zero)",
        r"shorts\s+(?:are\s+)?pay(?:ing|s)?\s+(?:the\s+)?longs",
        r"funding\s+(?:rates?\s+)?(?:of|at)?\s*(?:-|\u2212|minus)\s*\d",
    ],
    ("break", "breakout"): [
        r"break[\s-]?out",
        r"(?:broke|breaks|breaking|burst|bursts|pushed|pushes|pushing|punched|punches)\s+"
        r"(?:out\s+)?(?:above|through|past)\s+(?:the\s+)?(?:\S+\s+){0,2}"
        r"(?:resistance|range high|high|ceiling)",
        r"(?:broke|breaks|breaking)\s+(?:out\s+)?above",
        r"(?:cleared|clears|clearing|reclaimed|reclaims|flipped)\s+(?:the\s+)?(?:\S+\s+){0,2}resistance",
        r"resistance\s+(?:gave way|broke|broken|cleared)",
    ],
    ("break", "breakdown"): [
        r"break[\s-]?down",
        r"(?:broke|breaks|breaking|fell|falls|falling|slipped|slips|sliced|slices|dropped|drops)\s+"
        r"(?:down\s+)?(?:below|through|under)\s+(?:the\s+)?(?:\S+\s+){0,2}(?:support|range low|low|floor)",
        r"(?:broke|breaks|breaking)\s+(?:down\s+)?below",
        r"(?:lost|loses|losing|cracked|cracks)\s+(?:the\s+)?(?:\S+\s+){0,2}support",
        r"support\s+(?:gave way|broke|broken|failed|cracked)",
    ],
}

_NEGATION = re.compile(r"\b(?:not|no longer|isn't|wasn't|never|no)\s+(?:\w+\s+)?$")
_COMPILED = {
    key: [re.compile(rf"\b{p}", re.IGNORECASE) for p in patterns] for key, patterns in _PATTERNS.items()
}
_RSI_VALUE = re.compile(
    rf"\brsi(?:\s*\(?\d{{1,2}}\)?)?\s*(?:\w+\s+){{0,3}}?(?:at|of|=|:|near|around|~)?\s*{_NUMBER}\b",
    re.IGNORECASE,
)


def _said(text: str, dimension: str, direction: str) -> bool:
    for pattern in _COMPILED[(dimension, direction)]:
        for match in pattern.finditer(text):
            if not _NEGATION.search(text[max(0, match.start() - 24) : match.start()]):
                return True
    return False


def _rsi_from_number(text: str) -> str | None:
    zones = set()
    for match in _RSI_VALUE.finditer(text):
        value = float(match.group(1))
        if value <= 30:
            zones.add("oversold")
        elif value >= 70 and value <= 100:
            zones.add("overbought")
    return zones.pop() if len(zones) == 1 else None


def features_from_text(text: str) -> dict[str, str]:
    """The directions `text` speaks of, one per dimension at most."""
    text = " ".join(text.split())
    found: dict[str, str] = {}
    for dimension, directions in DIMENSIONS.items():
        said = {direction for direction in directions if _said(text, dimension, direction)}
        if dimension == "rsi" and not said:
            zone = _rsi_from_number(text)
            said = {zone} if zone else set()
        if len(said) == 1:
            found[dimension] = said.pop()
    return found


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _find(context: Mapping[str, Any], names: Iterable[str]) -> Any:
    """The first of `names` in the context or one level down (e.g. {"indicators": {"rsi": 27}})."""
    for name in names:
        if name in context:
            return context[name]
    for value in context.values():
        if isinstance(value, Mapping):
            for name in names:
                if name in value:
                    return value[name]
    return None


def features_from_context(context: Any) -> dict[str, str]:
    """Directions from a decision's input context: `rsi` (a number), `trend` (up/down/bullish/bearish),
    `funding_rate` or `funding` (its sign), `breakout` / `breakdown` (true) or `break` (the word)."""
    if not isinstance(context, Mapping):
        return {}
    found: dict[str, str] = {}
    rsi = _number(_find(context, ("rsi", "rsi_14", "rsi14")))
    if rsi is not None:
        if rsi <= 30:
            found["rsi"] = "oversold"
        elif rsi >= 70:
            found["rsi"] = "overbought"
    trend = _find(context, ("trend", "trend_direction"))
    if isinstance(trend, str):
        word = trend.strip().lower()
        if word in ("up", "uptrend", "bullish", "bull", "rising"):
            found["trend"] = "up"
        elif word in ("down", "downtrend", "bearish", "bear", "falling"):
            found["trend"] = "down"
    funding = _number(_find(context, ("funding_rate", "funding")))
    if funding is not None and funding != 0:
        found["funding"] = "positive" if funding > 0 else "negative"
    breakout, breakdown = _find(context, ("breakout",)), _find(context, ("breakdown",))
    if breakout is True and breakdown is not True:
        found["break"] = "breakout"
    elif breakdown is True and breakout is not True:
        found["break"] = "breakdown"
    word = _find(context, ("break",))
    if isinstance(word, str) and word.strip().lower() in DIMENSIONS["break"]:
        found["break"] = word.strip().lower()
    return found


def situation_features(text: str, context: Any = None) -> list[str]:
    """Features of a situation as sorted "dimension:direction" strings; the decision's input context,
    where there is one, wins over the words for a dimension both speak of."""
    found = {**features_from_text(text or ""), **features_from_context(context)}
    return sorted(f"{dimension}:{direction}" for dimension, direction in found.items())


def features_by_dimension(features: Iterable[str]) -> dict[str, str]:
    """{dimension: direction} of "dimension:direction" features (unknown dimensions left out)."""
    pairs = (feature.split(":", 1) for feature in features if ":" in feature)
    return {dimension: direction for dimension, direction in pairs if dimension in DIMENSIONS}


def features_compare(query: Iterable[str] | Mapping[str, str], candidate: Iterable[str]) -> dict[str, str]:
    """Per dimension both speak of: "match" (same direction) or "opposite". `query` may be given
    already by dimension (features_by_dimension), as recall does once for all its candidates."""
    mine = query if isinstance(query, Mapping) else features_by_dimension(query)
    if not mine:
        return {}
    theirs = features_by_dimension(candidate)
    return {
        dimension: "match" if mine[dimension] == theirs[dimension] else "opposite"
        for dimension in sorted(mine.keys() & theirs.keys())
    }
