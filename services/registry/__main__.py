from services.kernel import green

green.patch()

from services.kernel.runner import run  # noqa: E402
from services.registry.service import RegistryService  # noqa: E402
from services.registry.setup import after_migrations  # noqa: E402

run(RegistryService, after_migrations=after_migrations)
