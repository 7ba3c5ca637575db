from services.kernel import green

green.patch()

from services.backup.service import BackupService  # noqa: E402
from services.kernel.runner import run  # noqa: E402

run(BackupService)
