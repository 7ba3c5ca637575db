from services.kernel import green

green.patch()

from services.auth.service import AuthService, bootstrap  # noqa: E402
from services.kernel.runner import run  # noqa: E402

run(AuthService, after_migrations=bootstrap)
