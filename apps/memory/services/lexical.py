"""The lexical half of hybrid recall: a situation's words as a sparse vector for Qdrant.

Words are lower-cased, a few names folded onto their tickers ("bitcoin" and "xbt" are "btc"),
common words dropped and plural or tense endings trimmed, then hashed (BLAKE2b, stable across
processes) to a 32-bit index. A document's value for a word is 1 + ln(term frequency), a query's
is 1; Qdrant multiplies by the word's inverse document frequency over the collection (the sparse
vector's IDF modifier), so rare words such as "funding" or "capitulation" weigh more than "price".
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter

LEXICAL_VERSION = "lexical-v1"

_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")

# Names and spellings of one thing, folded onto one token.
SYNONYMS = {
    "bitcoin": "btc",
    "xbt": "btc",
    "bitcoins": "btc",
    "ethereum": "eth",
    "ether": "eth",
    "solana": "sol",
    "ripple": "xrp",
    "dogecoin": "doge",
    "cardano": "ada",
    "binance": "bnb",
    "avalanche": "avax",
    "chainlink": "link",
    "tether": "usdt",
    "perpetual": "perp",
    "perpetuals": "perp",
    "perps": "perp",
    "selloff": "dump",
    "dumped": "dump",
    "dumping": "dump",
    "rallied": "rally",
    "rallying": "rally",
    "rallies": "rally",
}

STOPWORDS = frozenset(
    (
        "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "by", "from",
        "as", "is", "are", "was", "were", "be", "been", "being", "it", "its", "this", "that", "these",
        "those", "there", "here", "than", "then", "so", "such", "into", "onto", "over", "under", "after",
        "before", "while", "when", "where", "which", "who", "what", "how", "all", "any", "some", "no",
        "not", "only", "very", "can", "could", "would", "should", "will", "just", "also", "about", "up",
        "down", "out", "off", "has", "have", "had", "do", "does", "did", "i", "we", "you", "they", "he",
        "she", "them", "our", "your", "their", "my", "me", "us",
    )
)
# "up", "down", "over", "under" are stopwords here: direction is read by situation.py, not by word overlap.


def _stem(word: str) -> str:
    if word.isdigit() or len(word) <= 4:
        return word
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def lexical_tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text or "").lower().replace("-", "").replace("'s", "")
    tokens = []
    for word in _WORD.findall(text):
        word = SYNONYMS.get(word, word)
        if word in STOPWORDS:
            continue
        tokens.append(_stem(word))
    return tokens


def _index(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest(), "big")


def _sparse(weights: dict[int, float]) -> tuple[list[int], list[float]]:
    indices = sorted(weights)
    return indices, [weights[i] for i in indices]


def sparse_document(text: str) -> tuple[list[int], list[float]]:
    """(indices, values) of a stored situation: 1 + ln(tf) per word."""
    counts = Counter(_index(token) for token in lexical_tokens(text))
    return _sparse({index: 1.0 + math.log(count) for index, count in counts.items()})


def sparse_query(text: str) -> tuple[list[int], list[float]]:
    """(indices, values) of a query: 1 per distinct word (Qdrant's IDF does the weighing)."""
    return _sparse(dict.fromkeys((_index(token) for token in lexical_tokens(text)), 1.0))
