from services.backup.models import Base
from services.backup.cluster import models as _cluster_models  # noqa: F401 - registers its tables
from services.backup.tenant import models as _tenant_models  # noqa: F401 - registers the per-tenant tables
from services.kernel.migrations import run_env

run_env(Base.metadata)
