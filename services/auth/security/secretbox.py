"""AES-256-GCM sealing of secrets at rest: moved to the kernel (`services.kernel.secretbox`)
so the registry seals its sensitive fields with the same code; re-exported here for auth."""
from services.kernel.secretbox import KEY_BYTES, SecretBox, SecretBoxError, generate_key

__all__ = ["KEY_BYTES", "SecretBox", "SecretBoxError", "generate_key"]
