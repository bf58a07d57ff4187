"""Finance and program files a team lead brings to the weekly review: the finance system's
monthly budget execution and the smart-band program's incentive statements (docs/imports.md),
and the plain projections the budget page shows (:mod:`dashboard.finance.projections`).

No Streamlit here: the budget page and the CLI (``budget import``, ``incentives import``) call
the same functions, which check ``import_data`` themselves.
"""

from dashboard.finance.budget import import_budget
from dashboard.finance.common import FileReport
from dashboard.finance.incentives import import_incentives

__all__ = ["FileReport", "import_budget", "import_incentives"]
