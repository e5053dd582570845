"""Imports every model module so that ``Base.metadata`` knows all tables.

Alembic's env (``migrations/env.py``) and the test fixtures import this one
module instead of listing models themselves. It lives in the root because it
names every part.
"""
from handoff import models as _handoff  # noqa: F401
from reports import models as _reports  # noqa: F401
from storage import models as _conversations  # noqa: F401
from storage.base import Base
from tickets import models as _tickets  # noqa: F401

metadata = Base.metadata
