from services.grades.models import Base
from services.grades.documents import models as _documents_tables  # noqa: F401 (their tables join Base)
from services.kernel.migrations import run_env

run_env(Base.metadata)
