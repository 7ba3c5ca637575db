from services.kernel import green

green.patch()

from services.grades.service import GradesService  # noqa: E402
from services.kernel.runner import run  # noqa: E402

run(GradesService)
