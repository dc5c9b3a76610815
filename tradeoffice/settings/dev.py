"""Development settings: `make run`. Debug on, a demo encryption key kept under var/."""

from cryptography.fernet import Fernet

from .base import *  # noqa: F403
from .base import VAR_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)

if not FIELD_ENCRYPTION_KEYS:  # noqa: F405
    # A key generated once per checkout and kept beside the embedded data, so the demo
    # exchange's credentials stay decryptable across restarts. Never used in production.
    _key_file = VAR_DIR / "field_encryption.key"
    if not _key_file.exists():
        _key_file.parent.mkdir(parents=True, exist_ok=True)
        _key_file.write_bytes(Fernet.generate_key())
        _key_file.chmod(0o600)
    FIELD_ENCRYPTION_KEYS = [_key_file.read_text().strip()]
