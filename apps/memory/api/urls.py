"""/api/v1/memory/: recall and every short-term memory key family of the seed."""

from django.urls import re_path

from . import views

urlpatterns = [
    re_path(r"^recall/?$", views.RecallView.as_view(), name="memory-recall"),
    re_path(
        r"^recalls/(?P<recall_id>[0-9]{1,18})/link/?$",
        views.RecallLinkView.as_view(),
        name="memory-recall-link",
    ),
    re_path(r"^playbook/?$", views.PlaybookView.as_view(), name="memory-playbook"),
    re_path(r"^market-context/?$", views.MarketContextView.as_view(), name="memory-market-context"),
    re_path(r"^trading-context/?$", views.TradingContextView.as_view(), name="memory-trading-context"),
    re_path(r"^ticker/?$", views.TickerView.as_view(), name="memory-ticker"),
    re_path(r"^tickers/?$", views.TickersView.as_view(), name="memory-tickers"),
    re_path(r"^orderbook/?$", views.OrderbookView.as_view(), name="memory-orderbook"),
    re_path(r"^prices/?$", views.PricesView.as_view(), name="memory-prices"),
    re_path(r"^indicators/?$", views.IndicatorView.as_view(), name="memory-indicators"),
    re_path(r"^decision-cache/?$", views.DecisionCacheView.as_view(), name="memory-decision-cache"),
    re_path(
        r"^decision-cache/lookup/?$",
        views.DecisionCacheLookupView.as_view(),
        name="memory-decision-cache-lookup",
    ),
    re_path(
        r"^portfolio-positions/?$", views.PortfolioPositionsView.as_view(), name="memory-portfolio-positions"
    ),
    re_path(r"^rate-limit/?$", views.RateLimitCheckView.as_view(), name="memory-rate-limit"),
]
