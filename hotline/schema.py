"""Every table of every package, imported in one place for Alembic and the test suite."""

from acd import models as acd_models
from bank import models as banking_models
from hotline.db import Base
from hotline.db import models as core_models
from qa import models as qa_models

MODEL_MODULES = (core_models, banking_models, qa_models, acd_models)
metadata = Base.metadata
