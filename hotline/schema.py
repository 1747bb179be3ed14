"""Every table of every package, imported in one place for Alembic and the test suite."""

from acd import models as acd_models
from audit import models as audit_models
from bank import models as banking_models
from calls import models as call_models
from hotline import staff as staff_models
from hotline.db import Base
from qa import models as qa_models
from recordings import models as recording_models

MODEL_MODULES = (call_models, acd_models, audit_models, banking_models, qa_models, staff_models,
                 recording_models)
metadata = Base.metadata
