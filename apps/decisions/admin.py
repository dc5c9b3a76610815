"""Model prices in the admin: operators add a price from a moment on; rows are kept, never overwritten."""

from django.contrib import admin, messages

from .costs import model_price_add
from .models import ModelPrice


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = [
        "model",
        "effective_from",
        "input_per_million",
        "output_per_million",
        "currency",
        "recorded_by",
    ]
    list_filter = ["model"]
    search_fields = ["model"]
    ordering = ["model", "-effective_from"]
    fields = ["model", "input_per_million", "output_per_million", "effective_from", "note"]

    def has_change_permission(self, request, obj=None) -> bool:
        # A price is changed by adding the next one, so the history of what decisions cost stays.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return [*self.fields, "currency", "recorded_by", "created_at"] if obj is not None else []

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        price, priced = model_price_add(
            model=data["model"],
            input_per_million=data["input_per_million"],
            output_per_million=data["output_per_million"],
            effective_from=data["effective_from"],
            recorded_by=request.user.get_username(),
            note=data.get("note") or "",
        )
        form.instance = price
        obj.pk = price.pk
        messages.info(
            request,
            f"{priced} decision(s) of {price.model} priced again from "
            f"{price.effective_from:%Y-%m-%d %H:%M} UTC.",
        )
