"""Import every table model, so SQLModel.metadata is complete (Alembic, tests)."""
from __future__ import annotations


def import_all() -> None:
    from .audit import models as _audit  # noqa: F401
    from .auth import models as _auth  # noqa: F401
    from .cases import models as _cases  # noqa: F401
    from .evidence import models as _evidence  # noqa: F401
    from .evidence import bulk_models as _bulk  # noqa: F401
    from .traces import models as _traces  # noqa: F401
    from .search import models as _search  # noqa: F401
    from .annexes import models as _annexes  # noqa: F401
