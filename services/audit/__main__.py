from services.kernel import green

green.patch()

from services.audit.service import AuditService  # noqa: E402
from services.kernel.runner import run  # noqa: E402

run(AuditService)
