"""Exchanges in the admin: credentials are write-only, shown masked at most, re-encrypted on save."""

from django import forms
from django.contrib import admin

from .crypto import CredentialDecryptionError
from .models import Exchange
from .services import exchange_credentials, exchange_register, exchange_set_credentials, mask


class ExchangeForm(forms.ModelForm):
    # The columns are nullable booleans (the seed's schema), but "unknown" is no answer for either.
    testnet = forms.BooleanField(required=False)
    is_active = forms.BooleanField(required=False, initial=True)
    api_key = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only. Leave empty to keep the current key.",
    )
    api_secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only. Leave empty to keep the current secret.",
    )
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only. Only some exchanges (OKX, KuCoin) use an API password.",
    )

    class Meta:
        model = Exchange
        fields = ["name", "testnet", "is_active"]

    def clean_name(self) -> str:
        # Exchange names are ccxt ids, always lower case (as exchange_register stores them).
        return self.cleaned_data["name"].strip().lower()

    def clean(self):
        cleaned = super().clean()
        if self.instance._state.adding:
            for field in ("api_key", "api_secret"):
                if not cleaned.get(field):
                    self.add_error(field, "Required for a new exchange.")
        return cleaned


@admin.register(Exchange)
class ExchangeAdmin(admin.ModelAdmin):
    form = ExchangeForm
    list_display = ["name", "testnet", "is_active", "credentials", "created_at", "updated_at"]
    list_filter = ["is_active", "testnet"]
    search_fields = ["name"]
    ordering = ["name"]
    date_hierarchy = "created_at"
    readonly_fields = ["credentials", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "testnet", "is_active"]}),
        ("Credentials (encrypted at rest)", {"fields": ["credentials", "api_key", "api_secret", "password"]}),
        ("Times", {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description="credentials")
    def credentials(self, obj: Exchange) -> str:
        if obj is None or obj.pk is None:
            return "—"
        try:
            secrets = exchange_credentials(exchange=obj)
        except CredentialDecryptionError:
            return "cannot be decrypted with the configured keys"
        password = "password set" if secrets.password else "no password"
        return f"key {mask(secrets.api_key)}, secret set, {password}"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            super().save_model(request, obj, form, change)
            exchange_set_credentials(
                exchange=obj,
                api_key=data.get("api_key"),
                api_secret=data.get("api_secret"),
                password=data.get("password"),
            )
            return
        created = exchange_register(
            name=data["name"],
            api_key=data["api_key"],
            api_secret=data["api_secret"],
            password=data.get("password") or None,
            testnet=bool(data.get("testnet")),
        )
        if not data.get("is_active"):
            # Registered as active by the service; the operator asked for it switched off.
            Exchange.objects.filter(pk=created.pk).update(is_active=False)
        obj.pk = created.pk
        obj._state.adding = False
        obj.refresh_from_db()
