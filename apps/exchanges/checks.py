"""Startup check: the credential encryption keys are present and valid."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register(checks.Tags.security)
def check_field_encryption_keys(app_configs, **kwargs):
    from . import crypto

    try:
        crypto.fernet()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="exchanges.E001")]
    return []
